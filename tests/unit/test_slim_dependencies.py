"""The HTTP images stay slim: dbapp and webapp neither install nor import the ML stack.

`common` keeps only what every process needs in its base dependencies; the rest are extras named after the modules
that need them (web, pubsub, gcs, csv, datasets, ml), and each member asks for exactly the extras it imports. The
images install one member with `uv sync --frozen --no-dev --package <member>`, so what an image gets is that
member's dependency closure in uv.lock, extras included.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SLIM_MEMBERS = ("dbapp", "webapp")
BANNED_DISTRIBUTIONS = {"scikit-learn", "scipy", "mlflow", "mlflow-skinny", "skops", "pyarrow"}
BANNED_MODULES = {"sklearn", "scipy", "mlflow", "skops", "pyarrow"}


@cache
def locked_packages() -> dict[str, list[dict]]:
    """name -> its uv.lock entries (a name can be locked at several versions, one per platform marker)."""
    packages: dict[str, list[dict]] = {}
    for entry in tomllib.loads((ROOT / "uv.lock").read_text())["package"]:
        packages.setdefault(entry["name"], []).append(entry)
    return packages


def dependency_closure(root: str, packages: dict[str, list[dict]]) -> set[str]:
    """Every distribution `uv sync --package root` may install: dependencies and requested extras, transitively.

    Platform markers are ignored (a package locked for any platform counts), so the answer errs on the large side.
    """
    seen: set[tuple[str, str | None]] = set()
    todo: list[tuple[str, str | None]] = [(root, None)]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        name, extra = node
        for entry in packages[name]:
            deps = entry.get("dependencies", []) if extra is None else entry.get("optional-dependencies", {})[extra]
            for dep in deps:
                todo.append((dep["name"], None))
                todo.extend((dep["name"], wanted) for wanted in dep.get("extra", []))
    return {name for name, _ in seen}


@pytest.mark.parametrize("member", SLIM_MEMBERS)
def test_slim_members_do_not_install_the_ml_stack(member: str) -> None:
    installed = dependency_closure(member, locked_packages())
    assert not installed & BANNED_DISTRIBUTIONS, f"{member} installs {sorted(installed & BANNED_DISTRIBUTIONS)}"


@pytest.mark.parametrize(
    ("member", "needs"),
    [
        # the closure follows common's extras: without them none of these would be found
        ("webapp", {"flask", "google-cloud-pubsub", "google-cloud-storage", "pandas", "numpy"}),
        ("dbapp", {"flask", "google-cloud-pubsub", "pymongo", "numpy"}),
        ("mlapp", {"flask", "google-cloud-pubsub", "scikit-learn", "mlflow-skinny", "skops", "pandas"}),
        ("data-versioning", {"google-cloud-pubsub", "google-cloud-storage", "pandas", "pyarrow"}),
        ("model-training", {"google-cloud-storage", "pyarrow", "scikit-learn", "mlflow-skinny", "skops"}),
    ],
)
def test_each_member_installs_what_it_imports(member: str, needs: set[str]) -> None:
    installed = dependency_closure(member, locked_packages())
    assert needs <= installed, f"{member} lacks {sorted(needs - installed)}"


# Imports every module of the package (app factory, blueprints, consumer, ...) and gunicorn's config module, then
# prints the top-level modules that got loaded. Run in a fresh interpreter: this test process has loaded everything.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(info.name)
importlib.import_module("common.gunicorn_conf")
print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules})))
"""


@pytest.mark.parametrize("package", SLIM_MEMBERS)
def test_slim_apps_import_no_ml_module(package: str, tmp_path: Path) -> None:
    # cwd: not the repository root, whose mlflow/ folder would shadow the library
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, package], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert package in loaded
    assert not loaded & BANNED_MODULES, f"importing {package} loads {sorted(loaded & BANNED_MODULES)}"
