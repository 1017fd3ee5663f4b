"""Helpers for webapp's unit tests (imported explicitly: `from tests.unit import webapp_support as ws`).

The app is built with CSRF enabled, a real `file://` landing bucket in the test's folder, an mlapp and dbapp URL
where nothing listens, and a bus that fails the test if anything is published: these tests cover what webapp
decides on its own (validation, CSRF, uploads, errors) without any other component.
"""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path
from typing import Any

from flask import Flask

from common.events import Event
from common.schema import INPUT_FIELDS
from common.settings import Settings
from local_platform.processes import free_port
from webapp.app import create_app
from webapp.config import WebappConfig

SECRET = "unit-test-secret-key-0123456789"


class DownBus:
    """A bus that does not accept anything, like Pub/Sub during an outage (the publish times out)."""

    def __init__(self) -> None:
        self.attempts: list[Event] = []

    def publish(self, event: Event, timeout: float = 30.0) -> str:
        self.attempts.append(event)
        raise TimeoutError(f"no acknowledgement within {timeout:g} s")


class NoBus:
    """Fails the test if the code under test publishes anything."""

    def publish(self, event: Event, timeout: float = 30.0) -> str:
        raise AssertionError(f"nothing should be published here, got {event.type}")


def make_app(tmp_path: Path, bus: Any = None, session: Any = None, **overrides: Any) -> Flask:
    settings = Settings.from_env(
        "webapp",
        {
            "GCP_PROJECT": "unit-tests",
            "PLATFORM_DATA_DIR": str(tmp_path / "data"),
            "LANDING_BUCKET": (tmp_path / "landing").as_uri(),
            "DBAPP_URL": f"http://127.0.0.1:{free_port()}",
        },
    )
    config = WebappConfig.from_env(
        {"SECRET_KEY": SECRET, "MLAPP_URL": f"http://127.0.0.1:{free_port()}"}, settings=settings
    )
    return create_app(config=dataclasses.replace(config, **overrides), bus=bus or NoBus(), session=session)


def record(**overrides: Any) -> dict[str, Any]:
    return {**{spec.name: spec.example for spec in INPUT_FIELDS}, **overrides}


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form with a csrf_token field"
    return html.unescape(found.group(1))


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()
