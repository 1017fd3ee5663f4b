"""docs/architecture.md describes the repository as it is: every deployable's folder, package, commands and image
in its parts table exist under those names, every deployable is in it, and it renders its flows as Mermaid."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "architecture.md").read_text()


def parts() -> list[list[str]]:
    section = DOC[DOC.index("## The parts") : DOC.index("## Flows")]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def scripts(folder: str) -> set[str]:
    project = tomllib.loads((REPO / folder / "pyproject.toml").read_text())["project"]
    return set(project.get("scripts", {}))


def test_the_parts_table_names_what_exists() -> None:
    images = dict(
        line.split() for line in (REPO / "images" / "images.txt").read_text().splitlines() if line[:1].isalpha()
    )
    rows = parts()
    assert {re.findall(r"`([\w/]+)/`", row[0])[0] for row in rows} == set(images), "every image's folder, once"
    for folder_cell, package, command, image, _where in rows:
        folder = re.findall(r"`([\w/]+)/`", folder_cell)[0]
        assert (REPO / folder / "src" / package.strip("`")).is_dir(), (folder, package)
        assert image.strip("`") == images[folder], (folder, image)
        named = set(re.findall(r"`([\w-]+)`", command)) - {"gunicorn"}
        assert named <= scripts(folder), (folder, named - scripts(folder))
        for app in re.findall(r"gunicorn `([\w.]+):create_app\(\)`", command):
            assert (REPO / folder / "src" / Path(*app.split("."))).with_suffix(".py").is_file(), app


def test_the_flows_are_diagrams_and_nothing_cites_a_missing_document() -> None:
    assert DOC.count("```mermaid") >= 2
    assert "DESIGN" not in DOC
