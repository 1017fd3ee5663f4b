"""The import graph: every deployable imports only `common` from this repository (never another service), and
the tools (`bench`, `chaos`, the launcher) import services only by starting them as processes."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVICES = {  # package -> its folder
    "webapp": "webapp",
    "mlapp": "mlapp",
    "dbapp": "dbapp",
    "data_versioning": "data_collection_and_versioning",
    "model_training": "models",
    "mlflow_server": "mlflow",
    "failover": "failover",
}
TOOLS = {"platform_bench": "bench", "platform_chaos": "chaos", "local_platform": "local_platform"}
FIRST_PARTY = {"common", *SERVICES, *TOOLS}


def imported_packages(folder: str, package: str) -> set[str]:
    found: set[str] = set()
    for path in (REPO / folder / "src" / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found & FIRST_PARTY


def test_services_import_only_common_and_themselves() -> None:
    for package, folder in SERVICES.items():
        assert imported_packages(folder, package) <= {"common", package}, package


def test_tools_import_no_service() -> None:
    for package, folder in TOOLS.items():
        assert not imported_packages(folder, package) & set(SERVICES), package
