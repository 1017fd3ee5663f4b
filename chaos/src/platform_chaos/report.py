"""The chaos table: one row per component, and the verdict (zero lost, zero duplicated)."""

from __future__ import annotations

from platform_chaos.config import SKIPPED
from platform_chaos.ledger import PhaseResult

HEADER = ("component", "kills", "accepted", "lost", "duplicated", "seconds to recover", "note")


def rows(results: dict[str, PhaseResult], order: list[str]) -> list[tuple[str, ...]]:
    table: list[tuple[str, ...]] = []
    for phase in order:
        result = results.get(phase, PhaseResult(phase))
        if phase in ("warm-up", "after") and not (result.accepted or result.lost or result.duplicated):
            continue  # load before the first kill or after the last: a row only when it has something to say
        seconds = "" if result.recovery_seconds is None else f"{result.recovery_seconds:.1f}"
        note = result.note
        if result.refused_then_stored:
            note = f"{note}; " if note else ""
            note += f"{result.refused_then_stored} refused, then stored by a retry the client gave up on"
        table.append(
            (phase, str(result.kills), str(result.accepted), str(result.lost), str(result.duplicated), seconds, note)
        )
    table += [(name, "0", "", "", "", "", reason) for name, reason in SKIPPED.items()]
    return table


def render(table: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in [HEADER, *table]) for i in range(len(HEADER))]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |" for row in [HEADER, *table]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def totals(results: dict[str, PhaseResult]) -> tuple[int, int, int]:
    """(accepted, lost, duplicated) over every phase."""
    values = list(results.values())
    return sum(r.accepted for r in values), sum(r.lost for r in values), sum(r.duplicated for r in values)
