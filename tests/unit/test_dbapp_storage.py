"""Storage-level rules: cursors, SQLite persistence and concurrency, the MongoDB settle window, configuration."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mongomock
import pytest

from common.settings import ConfigError
from dbapp.config import DbappConfig
from dbapp.pagination import PageRequest, ParameterInvalid
from dbapp.storage.base import decode_cursor, encode_cursor
from dbapp.storage.mongo import MongoStore
from dbapp.storage.sqlite import SqliteStore

COLLECTIONS = ("collection_1", "collection_2")


@pytest.mark.parametrize("seq", [0, 1, 42, 2**63 - 1])
def test_cursor_round_trip(seq: int) -> None:
    assert decode_cursor(encode_cursor(seq)) == seq


@pytest.mark.parametrize("raw", ["", "-1", "1.5", "abc", "٣", str(2**63)])
def test_cursor_rejects_what_it_did_not_issue(raw: str) -> None:
    with pytest.raises(ValueError, match="not a valid cursor"):
        decode_cursor(raw)


def test_page_request_defaults_and_blank_after() -> None:
    assert PageRequest.from_args({}) == PageRequest(limit=50, after=None)
    assert PageRequest.from_args({"after": "", "limit": "7"}) == PageRequest(limit=7, after=None)
    with pytest.raises(ParameterInvalid) as caught:
        PageRequest.from_args({"limit": "1000", "after": "x"})
    assert set(caught.value.fields) == {"limit", "after"}


def test_sqlite_is_a_persistent_wal_database(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dbapp.sqlite3"
    store = SqliteStore(path, COLLECTIONS)
    stored = store.put("collection_1", "e1", {"x": 1.5}).document
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened = SqliteStore(path, COLLECTIONS)
    assert reopened.get("collection_1", "e1") == stored
    assert reopened.put("collection_1", "e2", {}).document.seq > stored.seq
    reopened.close()


def test_sqlite_concurrent_writers_of_the_same_event_store_it_once(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3", COLLECTIONS)
    results, barrier = [], threading.Barrier(8)

    def write(i: int) -> None:
        barrier.wait()
        results.append(store.put("collection_2", "same", {"writer": i}))
        for n in range(10):
            store.put("collection_2", f"w{i}-{n}", {"n": n})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result.created for result in results) == 1
    assert len({result.document.seq for result in results}) == 1  # every writer got the one stored document
    assert store.count("collection_2") == 1 + 8 * 10
    seqs = [doc.seq for doc in store.oldest_after("collection_2", None, 1000)]
    assert seqs == sorted(set(seqs))
    store.close()


def test_sqlite_pages_are_bounded_by_the_cursor(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3", COLLECTIONS)
    seqs = [store.put("collection_1", f"e{i}", {"i": i}).document.seq for i in range(5)]
    assert [d.seq for d in store.newest("collection_1", 2, before=seqs[3])] == [seqs[2], seqs[1]]
    assert [d.seq for d in store.oldest_after("collection_1", seqs[1], 2)] == [seqs[2], seqs[3]]
    assert store.oldest_after("collection_2", None, 10) == []
    store.close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_mongo_corrections_feed_waits_for_the_settle_window() -> None:
    clock = Clock()
    store = MongoStore(mongomock.MongoClient(tz_aware=True), "db", COLLECTIONS, settle_seconds=2, clock=clock)
    # Two writers: "slow" got the lower seq but its created_at is 5 s later than that of "fast" (seq 2).
    first = store.put("collection_2", "slow", {"n": 1}).document
    clock.now -= timedelta(seconds=5)
    second = store.put("collection_2", "fast", {"n": 2}).document
    assert first.seq < second.seq
    clock.now += timedelta(seconds=5, milliseconds=1500)  # "fast" is settled, "slow" is 1.5 s old: not yet
    assert store.oldest_after("collection_2", None, 10) == []  # never skip seq 1 by returning seq 2 alone
    clock.now += timedelta(seconds=1)
    assert [doc.event_id for doc in store.oldest_after("collection_2", None, 10)] == ["slow", "fast"]


def test_mongo_put_is_insert_if_absent() -> None:
    store = MongoStore(mongomock.MongoClient(tz_aware=True), "db", COLLECTIONS, settle_seconds=0)
    first = store.put("collection_1", "e", {"v": 1})
    again = store.put("collection_1", "e", {"v": 2})
    assert first.created and not again.created
    assert again.document == first.document
    assert store.count("collection_1") == 1


def test_config_rejects_a_bad_settle_window_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="DBAPP_MONGO_SETTLE_SECONDS"):
        DbappConfig.from_env({"GCP_PROJECT": "p", "DBAPP_MONGO_SETTLE_SECONDS": "soon"})


def test_config_rejects_one_collection_for_both_kinds() -> None:
    with pytest.raises(ConfigError, match="COLLECTION_1 and COLLECTION_2"):
        DbappConfig.from_env({"GCP_PROJECT": "p", "COLLECTION_1": "c", "COLLECTION_2": "c"})


def test_mongo_counter_behind_the_documents_is_moved_past_them() -> None:
    client = mongomock.MongoClient(tz_aware=True)
    first = MongoStore(client, "db", COLLECTIONS, settle_seconds=0)
    seqs = [first.put("collection_1", f"e{i}", {}).document.seq for i in range(3)]
    client["db"]["counters"].drop()  # e.g. a restore that did not include the counters collection
    restarted = MongoStore(client, "db", COLLECTIONS, settle_seconds=0)
    result = restarted.put("collection_1", "after-restore", {})
    assert result.created and result.document.seq > max(seqs)


def test_mongo_put_skips_sequences_that_are_already_taken() -> None:
    client = mongomock.MongoClient(tz_aware=True)
    store = MongoStore(client, "db", COLLECTIONS, settle_seconds=0)
    seqs = [store.put("collection_1", f"e{i}", {}).document.seq for i in range(3)]
    client["db"]["counters"].drop()  # while this process runs: the counter restarts below the documents
    result = store.put("collection_1", "next", {})
    assert result.created and result.document.seq == max(seqs) + 1
    assert store.count("collection_1") == 4


def test_mongodb_writes_wait_for_a_journaled_majority_unless_the_uri_says_otherwise() -> None:
    from dbapp.storage.mongo import connect

    durable = connect("mongodb://127.0.0.1:1/")  # pymongo connects lazily: nothing is contacted here
    assert durable.write_concern.document == {"w": "majority", "j": True}
    chosen = connect("mongodb://127.0.0.1:1/?w=1")
    assert chosen.write_concern.document == {"w": 1}
    durable.close()
    chosen.close()
