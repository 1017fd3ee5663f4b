"""The chaos run's verdict: an accepted write with no stored document is lost, one with two is duplicated, a
refused write stored anyway is reported apart; the table and totals say so."""

from __future__ import annotations

from platform_chaos.ledger import Ledger, PhaseResult
from platform_chaos.report import render, rows, totals


def test_the_ledger_counts_lost_duplicated_and_refused_but_stored_per_phase() -> None:
    ledger = Ledger()
    ledger.phase = "dbapp"
    kept, lost, twice = (ledger.new(key, "correction") for key in ("a", "b", "c"))
    for request in (kept, lost, twice):
        request.status, request.event_id = 202, f"e-{request.key}"
    refused = ledger.new("d", "correction")
    refused.refusals.append("503: the correction could not be recorded right now")
    ledger.phase = "webapp"
    prediction = ledger.new("e", "prediction")
    prediction.status, prediction.event_id = 200, "e-e"
    stored = {"collection_2": {"chaos a": 1, "chaos c": 2, "chaos d": 1}, "collection_1": {"chaos e": 1}}

    results = ledger.verdict(stored, {"dbapp": PhaseResult("dbapp", kills=1, recovery_seconds=2.5)})

    dbapp, webapp = results["dbapp"], results["webapp"]
    assert (dbapp.accepted, dbapp.lost, dbapp.duplicated, dbapp.refused_then_stored) == (3, 1, 1, 1)
    assert (webapp.accepted, webapp.lost, webapp.duplicated) == (1, 0, 0)
    assert dict(dbapp.refusals) == {"503: the correction could not be recorded right now": 1}
    assert totals(results) == (4, 1, 1)
    table = rows(results, ["warm-up", "dbapp", "webapp", "after"])
    assert [row[0] for row in table] == ["dbapp", "webapp", "pubsub"]  # empty warm-up/after rows are left out
    assert table[0][1:6] == ("1", "3", "1", "1", "2.5") and "1 refused, then stored" in table[0][6]
    assert render(table).splitlines()[0].startswith("| component | kills | accepted | lost | duplicated |")
