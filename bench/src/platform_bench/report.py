"""The benchmark's output: rows of one table on stdout, and the same figures as JSON under bench/results/."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One measured case. `values` holds the raw numbers (JSON); `summary` is their short form for the table."""

    section: str  # data_job, training, serving, batch, webapp
    case: str  # e.g. "mlapp c=16"
    summary: str
    values: dict[str, Any] = field(default_factory=dict)
    target: str = ""  # the target for this case, in words; "" when there is none
    met: bool | None = None  # None: no target


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gib = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def git_commit(repo: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        return out.stdout.strip()
    except OSError:
        return ""


def render_table(rows: list[Row]) -> str:
    """A fixed-width table (also valid Markdown, so the README can carry it unchanged)."""
    header = ("section", "case", "result", "target", "met")
    body = [(r.section, r.case, r.summary, r.target, "" if r.met is None else ("yes" if r.met else "NO")) for r in rows]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]

    def fmt(line: tuple[str, ...]) -> str:
        return "| " + " | ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)) + " |"

    return "\n".join([fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, body)])


def write_json(
    rows: list[Row], results_dir: Path, settings: dict[str, Any], repo: Path, started: datetime, commit: str
) -> Path:
    """bench/results/bench-<UTC time>.json and latest.json (the same content)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    document = {
        "started": started.isoformat(timespec="seconds"),
        "finished": now.isoformat(timespec="seconds"),
        "commit": commit,
        "machine": machine(),
        "settings": settings,
        "rows": [asdict(r) for r in rows],
    }
    text = json.dumps(document, indent=2, default=str) + "\n"
    path = results_dir / f"bench-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(text)
    (results_dir / "latest.json").write_text(text)
    return path
