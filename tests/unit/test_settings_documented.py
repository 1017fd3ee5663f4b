"""Every environment variable the code reads is documented: in the README's configuration table or in the README
of the component that reads it. Found by scanning the sources for the ways settings are read."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOLDERS = ("common", "webapp", "mlapp", "dbapp", "data_collection_and_versioning", "models", "mlflow", "local_platform")
READS = re.compile(
    r"""(?:env(?:iron)?\.get\(|env_(?:int|float|flag)\(\s*\w+,\s*|environ\[|getenv\(|env\[)\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def variables_read() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for folder in FOLDERS:
        for path in (REPO / folder / "src").rglob("*.py"):
            for match in READS.finditer(path.read_text()):
                found.setdefault(match.group(1), set()).add(folder)
    return found


def test_the_scan_finds_the_settings() -> None:
    found = variables_read()
    assert {"PLATFORM_DATA_DIR", "SECRET_KEY", "API_TOKENS", "DATA_JOB_LEASE_SECONDS", "PORT"} <= set(found)


def documented(name: str, text: str) -> bool:
    """`NAME` or `NAME=value` in code quotes (a table row, or a sentence showing how to set it)."""
    return re.search(rf"`{name}[`=]", text) is not None


def readme(folder: str = "") -> str:
    path = REPO / folder / "README.md"
    return path.read_text() if path.exists() else ""


def test_every_variable_read_is_documented() -> None:
    undocumented = {
        name: sorted(folders)
        for name, folders in variables_read().items()
        if not documented(name, readme()) and not any(documented(name, readme(folder)) for folder in folders)
    }
    assert not undocumented, f"read but documented nowhere (README.md or the component's README): {undocumented}"
