"""What the request handlers share: configuration and the store, kept on the Flask app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import current_app

from dbapp.config import DbappConfig
from dbapp.quality import LiveQualityCache
from dbapp.storage import DocumentStore

EXTENSION = "dbapp"


@dataclass(frozen=True)
class DbappContext:
    config: DbappConfig
    store: DocumentStore
    quality: LiveQualityCache


def current() -> DbappContext:
    return cast(DbappContext, current_app.extensions[EXTENSION])
