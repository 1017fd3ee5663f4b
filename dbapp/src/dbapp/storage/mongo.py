"""MongoDB backend (pymongo), used when `MONGO_URI` is set.

Each collection has unique indexes on `event_id` and `seq`. `seq` comes from a `counters` collection
(`find_one_and_update` with `$inc`), allocated *before* the insert.

Known limitation: two writers can allocate seq 5 and 6, and 6 can be committed (and read) before 5 is. A client
that paged past 6 would then never see 5. `oldest_after` (the `/corrections` feed) mitigates this with a settle
window: it returns documents in `seq` order and stops at the first one younger than `settle_seconds`.
`created_at` is taken after `seq` was allocated, so a returned document proves every lower `seq` was allocated
more than `settle_seconds` ago; an insert that takes longer than that after its allocation (or clocks of
different writers that disagree by more than that) can still be missed. `newest` (`/retrieve`, a view for
people) has no such guarantee.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument, monitoring
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, PyMongoError

from dbapp.metrics import DB_CONNECTIONS, DB_ERRORS
from dbapp.storage.base import ErrorSum, PutResult, StorageUnavailable, StoredDocument, guard, utcnow

COUNTERS = "counters"
MAX_SEQ_ATTEMPTS = 5
_ERRORS = (PyMongoError,)
_PROJECTION = {"_id": 0, "event_id": 1, "seq": 1, "created_at": 1, "data": 1}
_NUMBER = {"$type": "number"}
_INTEGER = {"$type": "int"}  # a ModelRef version (at most 2**31 - 1) is a 32-bit int in BSON
_POSITIVE = {"$type": "number", "$gt": 0}
# dbapp.quality's rule: a correction that names its model version and predicted price ("own") is summed as it is;
# the others take both from the prediction their prediction_event_id names ($lookup on the unique event_id index).
_NOT_OWN = {"$nor": [{"data.model.version": _INTEGER, "data.predicted_price": _NUMBER}]}


def _error_pipelines(predictions: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The corrections that name their own model and price, then those that take both from their prediction."""
    own = {"data.model.version": _INTEGER, "data.predicted_price": _POSITIVE, "data.corrected_price": _POSITIVE}
    joined = {**_NOT_OWN, "data.prediction_event_id": {"$type": "string"}, "data.corrected_price": _POSITIVE}
    lookup = {"from": predictions, "localField": "data.prediction_event_id", "foreignField": "event_id", "as": "p"}
    return (
        [{"$match": own}, _sum_by_model("data", "$data.predicted_price")],
        [
            {"$match": joined},
            {"$lookup": lookup},
            {"$unwind": "$p"},
            {"$match": {"p.data.model.version": _INTEGER, "p.data.result": _POSITIVE}},
            _sum_by_model("p.data", "$p.data.result"),
        ],
    )


def _sum_by_model(prefix: str, predicted: str) -> dict[str, Any]:
    """The `$group` stage: |corrected - predicted| summed and counted per (family, version) of `prefix`.model."""
    error = {"$abs": {"$subtract": ["$data.corrected_price", predicted]}}
    return {
        "$group": {
            "_id": {"family": f"${prefix}.model.family", "version": f"${prefix}.model.version"},
            "total": {"$sum": error},
            "count": {"$sum": 1},
        }
    }


class ConnectionGauge(monitoring.ConnectionPoolListener):
    """Keeps `mongo_active_connections` equal to the connections this process holds open."""

    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None:
        DB_CONNECTIONS.inc()

    def connection_closed(self, event: monitoring.ConnectionClosedEvent) -> None:
        DB_CONNECTIONS.dec()

    def pool_created(self, event: monitoring.PoolCreatedEvent) -> None: ...
    def pool_ready(self, event: monitoring.PoolReadyEvent) -> None: ...
    def pool_cleared(self, event: monitoring.PoolClearedEvent) -> None: ...
    def pool_closed(self, event: monitoring.PoolClosedEvent) -> None: ...
    def connection_ready(self, event: monitoring.ConnectionReadyEvent) -> None: ...
    def connection_check_out_started(self, event: monitoring.ConnectionCheckOutStartedEvent) -> None: ...
    def connection_check_out_failed(self, event: monitoring.ConnectionCheckOutFailedEvent) -> None: ...
    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None: ...
    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None: ...


def connect(uri: str, *, server_selection_timeout_ms: int = 5000) -> MongoClient[dict[str, Any]]:
    """A client with aware UTC datetimes, the connection gauge, and a short server-selection timeout (unless
    the URI sets one) so that `/readyz` answers 503 quickly when the server is down. Writes are acknowledged
    only once a majority of the replica set has them in its journal (unless the URI sets `w`): an event dbapp
    acknowledged to Pub/Sub must survive a mongod crash."""
    options: dict[str, Any] = {"tz_aware": True, "event_listeners": [ConnectionGauge()], "appname": "dbapp"}
    if "serverselectiontimeoutms" not in uri.lower():
        options["serverSelectionTimeoutMS"] = server_selection_timeout_ms
    if "w=" not in uri.lower():
        options.update(w="majority", journal=True)
    return MongoClient(uri, **options)


class MongoStore:
    backend = "mongodb"

    def __init__(
        self,
        client: MongoClient[dict[str, Any]],
        database: str,
        collections: Iterable[str],
        *,
        settle_seconds: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.client = client
        self.db = client[database]
        self.collections = frozenset(collections)
        self.settle = timedelta(seconds=settle_seconds)
        self._clock = clock
        self._indexes_ready = False
        self._lock = threading.Lock()

    def _ensure_indexes(self) -> None:
        """Created lazily (and idempotently) so the service starts, and reports not ready, while Mongo is down."""
        if self._indexes_ready:
            return
        with self._lock:
            if self._indexes_ready:
                return
            for name in self.collections:
                self.db[name].create_index([("event_id", ASCENDING)], unique=True, name="event_id_unique")
                self.db[name].create_index([("seq", DESCENDING)], unique=True, name="seq_unique")
                # A counter behind the stored documents (counters collection lost, or a partial restore) would
                # allocate sequences that already exist: move it past the highest one first.
                highest = self.db[name].find_one({}, {"seq": 1}, sort=[("seq", DESCENDING)])
                if highest is not None:
                    self.db[COUNTERS].update_one({"_id": name}, {"$max": {"seq": int(highest["seq"])}}, upsert=True)
            self._indexes_ready = True

    def _collection(self, collection: str) -> Collection[dict[str, Any]]:
        if collection not in self.collections:
            raise KeyError(f"unknown collection {collection!r}")
        self._ensure_indexes()
        return self.db[collection]

    def _next_seq(self, collection: str) -> int:
        counter = self.db[COUNTERS].find_one_and_update(
            {"_id": collection}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        if counter is None:  # an upsert asked for the document after it always returns one
            raise RuntimeError(f"the {COUNTERS} upsert for {collection!r} returned no counter")
        return int(counter["seq"])

    def put(self, collection: str, event_id: str, data: dict[str, Any]) -> PutResult:
        if collection not in self.collections:
            raise KeyError(f"unknown collection {collection!r}")
        with guard(self.backend, "insert", _ERRORS):
            coll = self._collection(collection)
            existing = coll.find_one({"event_id": event_id}, _PROJECTION)
            if existing is not None:
                return PutResult(_document(existing), created=False)
            for _attempt in range(MAX_SEQ_ATTEMPTS):
                seq = self._next_seq(collection)
                created_at = self._clock()
                try:
                    result = coll.update_one(
                        {"event_id": event_id},
                        {"$setOnInsert": {"seq": seq, "created_at": created_at, "data": data}},
                        upsert=True,
                    )
                    if result.upserted_id is not None:
                        return PutResult(StoredDocument(event_id, seq, created_at, data), created=True)
                except DuplicateKeyError:
                    pass  # the same event_id inserted concurrently (its document wins), or a seq already taken
                existing = coll.find_one({"event_id": event_id}, _PROJECTION)
                if existing is not None:
                    return PutResult(_document(existing), created=False)
                # The seq was taken (a counter that fell behind the documents): allocate another one.
        DB_ERRORS.inc()
        raise StorageUnavailable(f"mongodb insert failed: no free sequence after {MAX_SEQ_ATTEMPTS} attempts")

    def get(self, collection: str, event_id: str) -> StoredDocument | None:
        with guard(self.backend, "get", _ERRORS):
            found = self._collection(collection).find_one({"event_id": event_id}, _PROJECTION)
        return None if found is None else _document(found)

    def newest(self, collection: str, limit: int, before: int | None = None) -> list[StoredDocument]:
        query = {} if before is None else {"seq": {"$lt": before}}
        with guard(self.backend, "query", _ERRORS):
            found = list(self._collection(collection).find(query, _PROJECTION).sort("seq", DESCENDING).limit(limit))
        return [_document(doc) for doc in found]

    def oldest_after(self, collection: str, after: int | None, limit: int) -> list[StoredDocument]:
        query = {} if after is None else {"seq": {"$gt": after}}
        with guard(self.backend, "query", _ERRORS):
            found = list(self._collection(collection).find(query, _PROJECTION).sort("seq", ASCENDING).limit(limit))
        cutoff = self._clock() - self.settle
        settled: list[StoredDocument] = []
        for doc in map(_document, found):
            if doc.created_at > cutoff:
                break  # everything from here on waits for the next call
            settled.append(doc)
        return settled

    def count(self, collection: str) -> int:
        with guard(self.backend, "count", _ERRORS):
            return self._collection(collection).count_documents({})

    def error_sums(self, predictions: str, corrections: str) -> list[ErrorSum]:
        self._collection(predictions)
        sums: dict[tuple[str | None, int], ErrorSum] = {}
        with guard(self.backend, "aggregate", _ERRORS):
            coll = self._collection(corrections)
            for pipeline in _error_pipelines(predictions):
                for row in coll.aggregate(pipeline):
                    family = row["_id"].get("family")
                    key = (family if isinstance(family, str) else None, int(row["_id"]["version"]))
                    before = sums.get(key, ErrorSum(*key, 0.0, 0))
                    sums[key] = ErrorSum(*key, before.total + float(row["total"]), before.count + int(row["count"]))
        return list(sums.values())

    def ping(self) -> None:
        with guard(self.backend, "ping", _ERRORS):
            self.client.admin.command("ping")
            self._ensure_indexes()

    def close(self) -> None:
        self.client.close()


def _document(doc: Mapping[str, Any]) -> StoredDocument:
    created_at = doc["created_at"]
    if created_at.tzinfo is None:  # a client without tz_aware=True returns naive UTC datetimes
        created_at = created_at.replace(tzinfo=UTC)
    return StoredDocument(doc["event_id"], int(doc["seq"]), created_at, doc["data"])
