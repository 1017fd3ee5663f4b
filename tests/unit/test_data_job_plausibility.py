"""Implausible corrections (too far from their estimate, or from every price trained on) are quarantined with
their reason and counted, never turned into training rows."""

from __future__ import annotations

from typing import Any

import pytest

from common.dataset_versions import Manifest
from data_versioning import corrections
from data_versioning.plausibility import PriceBounds, price_bounds
from tests.unit.data_job_support import RECORD

HOUSE = {k: v for k, v in RECORD.items() if k != "price"}


def manifest(version: int, train_price: dict[str, float] | None) -> Manifest:
    return Manifest(version=version, created_at="2026-01-01T00:00:00+00:00", files={}, train_price=train_price)


@pytest.mark.parametrize(
    ("corrected", "predicted", "verdict"),
    [
        (500_000.0, 100_000.0, None),  # exactly 5x is still believable
        (500_001.0, 100_000.0, "5x"),
        (20_000.0, 100_000.0, None),
        (19_999.0, 100_000.0, "0.2x"),
        (9_000_000.0, None, None),  # no estimate to compare with (seed corrections)
        (9_000_000.0, "100000", None),  # not a number: not compared
        (9_000_000.0, 0, None),
        (9_000_000.0, True, None),
    ],
)
def test_corrected_against_predicted(corrected: float, predicted: Any, verdict: str | None) -> None:
    problem = PriceBounds(5.0).problem(corrected, predicted)
    if verdict is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith("implausible: corrected price")
        assert "CORRECTION_MAX_FACTOR=5" in problem and verdict.rstrip("x") in problem


def test_range_comes_from_the_train_prices_the_manifests_recorded() -> None:
    assert price_bounds([manifest(1, None)], 5.0, 2.0) == PriceBounds(5.0)  # older manifests: schema bounds only
    bounds = price_bounds(
        [manifest(1, None), manifest(2, {"min": 50_000, "max": 800_000}), manifest(3, {"min": 80_000, "max": 2e6})],
        5.0,
        2.0,
    )
    assert (bounds.low, bounds.high) == (25_000, 4e6)
    assert bounds.problem(24_000.0, None) == (
        "implausible: corrected price 24,000 is outside 25,000..4,000,000 "
        "(train prices 50,000..2,000,000 of v2..v3 widened by CORRECTION_RANGE_FACTOR=2)"
    )
    assert bounds.problem(4e6, None) is None
    assert bounds.problem(4e6 + 1, None) is not None


def test_fetch_quarantines_implausible_corrections_and_still_advances(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [
        {"cursor": "1", "event_id": "e1", "record": HOUSE, "corrected_price": 410_000.0, "predicted_price": 400_000.0},
        {"cursor": "2", "event_id": "e2", "record": HOUSE, "corrected_price": 4_100_000.0, "predicted_price": 400_000},
        {"cursor": "3", "event_id": "e3", "record": HOUSE, "corrected_price": 9e8, "predicted_price": None},
        {"cursor": "4", "event_id": "e4", "record": HOUSE, "corrected_price": -1, "predicted_price": None},
    ]

    def page(*args: Any) -> dict[str, Any]:
        return {"items": items, "next_cursor": "4", "has_more": False}

    monkeypatch.setattr(corrections, "_page", page)
    bounds = PriceBounds(5.0, 10_000.0, 2_000_000.0, "train prices")
    fetch = corrections.fetch_corrections("http://dbapp", None, bounds=bounds)
    assert fetch.cursor == "4"
    assert fetch.frame["price"].tolist() == [410_000.0]
    assert [(r.event_id, r.reason.split(" ")[0]) for r in fetch.implausible] == [
        ("e2", "implausible:"),
        ("e3", "implausible:"),
    ]
    assert "10.2x the predicted 400,000" in fetch.implausible[0].reason
    assert fetch.implausible[0].values["street"] == "1 Main St"  # the quarantine keeps what was corrected
    assert [r.event_id for r in fetch.rejected] == ["e4"]
    assert [r.event_id for r in fetch.quarantined] == ["e4", "e2", "e3"]
