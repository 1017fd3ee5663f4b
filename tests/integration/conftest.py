"""Fixtures shared by the integration tests that need the three services running together."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.contract_services import Services, running_services


@pytest.fixture(scope="session")
def services(
    mlflow_server: str, pubsub_emulator: str, tmp_path_factory: pytest.TempPathFactory, logs_dir: Path
) -> Iterator[Services]:
    with running_services(mlflow_server, pubsub_emulator, tmp_path_factory.mktemp("contract"), logs_dir) as running:
        yield running
