"""`make up` waits for mlapp's first model only when the registry has a champion to load."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from common.settings import Settings
from local_platform import readiness
from local_platform.stack import Ports, Stack

SETTINGS = Settings.from_env("platform", {"MODEL_NAME": "house-price"}, require_project=False)


class Answer:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


def answering(alias: int | Exception, readyz: list[int]) -> tuple[list[str], Any]:
    """A stand-in for requests.get: the registry's alias lookup answers `alias`, mlapp's /readyz each of `readyz`
    in turn (the last one for ever)."""
    asked: list[str] = []

    def get(url: str, params: dict[str, str] | None = None, timeout: float = 0) -> Answer:
        asked.append(url)
        if url.endswith("/registered-models/alias"):
            assert params == {"name": "house-price", "alias": "champion"}
            if isinstance(alias, Exception):
                raise alias
            return Answer(alias)
        return Answer(readyz.pop(0) if len(readyz) > 1 else readyz[0])

    return asked, get


def stack() -> Stack:
    return Stack(data_dir=Path("/nonexistent"), ports=Ports(mlflow=5999, mlapp=8999))


def test_without_a_champion_it_says_so_at_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    asked, get = answering(404, [503])
    monkeypatch.setattr(requests, "get", get)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="platform"):
        readiness.wait_for_model(stack(), SETTINGS, timeout=30)
    assert time.monotonic() - started < 5
    assert "mlapp has no model loaded yet" in caplog.text
    assert asked[0] == "http://127.0.0.1:5999/api/2.0/mlflow/registered-models/alias"


@pytest.mark.parametrize("alias", [200, 503, requests.ConnectionError("refused")])
def test_with_a_champion_or_no_clear_answer_it_waits_for_mlapp(monkeypatch: pytest.MonkeyPatch, alias: Any) -> None:
    asked, get = answering(alias, [503, 503, 200])
    monkeypatch.setattr(requests, "get", get)
    readiness.wait_for_model(stack(), SETTINGS, timeout=30)
    assert asked.count("http://127.0.0.1:8999/readyz") == 3
