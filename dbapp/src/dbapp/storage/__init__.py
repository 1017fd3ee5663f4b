"""Document storage: SQLite by default, MongoDB when `MONGO_URI` is set."""

from __future__ import annotations

from common.settings import Settings
from dbapp.storage.base import DocumentStore, PutResult, StorageUnavailable, StoredDocument

__all__ = ["DocumentStore", "PutResult", "StorageUnavailable", "StoredDocument", "open_store"]


def open_store(settings: Settings, *, mongo_settle_seconds: float = 2.0) -> DocumentStore:
    """The store the settings select. Nothing is contacted yet: a database that is down makes `/readyz` fail,
    not the start-up."""
    collections = (settings.collection_predictions, settings.collection_corrections)
    if settings.mongo_uri:
        from dbapp.storage.mongo import MongoStore, connect

        client = connect(settings.mongo_uri.get_secret_value())
        return MongoStore(client, settings.mongo_db, collections, settle_seconds=mongo_settle_seconds)
    from dbapp.storage.sqlite import SqliteStore

    return SqliteStore(settings.dbapp_sqlite_path, collections)
