"""One data job at a time: the lease in the datasets bucket, raced for by threads and processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.blobstore import FileBlobStore
from data_versioning import lease as lease_module
from data_versioning.lease import LEASE_NAME, Lease, LeaseHeld, LeaseLost, LeaseRecord

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(moment: datetime):
    return lambda: moment


def foreign_lease(store: FileBlobStore, expires: datetime, *, host: str = "other-host", pid: int = 4242) -> None:
    record = LeaseRecord(
        f"{host}:{pid}:cafe", host, pid, (expires - timedelta(hours=1)).isoformat(), expires.isoformat()
    )
    store.write(LEASE_NAME, record.to_json())


def test_acquire_writes_owner_and_expiry_and_release_removes_it(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    held = Lease.acquire(store, 900, clock=at(T0))
    doc = json.loads(store.read(LEASE_NAME))
    assert doc["owner"].startswith(f"{socket.gethostname()}:{os.getpid()}:")
    assert (doc["acquired_at"], doc["expires_at"]) == (T0.isoformat(), (T0 + timedelta(seconds=900)).isoformat())
    assert held.acquired_updated is not None
    held.release()
    assert not store.exists(LEASE_NAME)


def test_a_live_lease_stops_the_second_job_naming_holder_and_expiry(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    first = Lease.acquire(store, 900, clock=at(T0))
    with pytest.raises(LeaseHeld) as held:
        Lease.acquire(store, 900, clock=at(T0 + timedelta(seconds=60)))
    message = str(held.value)
    assert first.record.owner in message
    assert f"expires {(T0 + timedelta(seconds=900)).isoformat()} (in 840 s)" in message
    assert json.loads(store.read(LEASE_NAME))["owner"] == first.record.owner  # untouched


def test_an_expired_lease_is_taken_over_and_its_old_holder_finds_out(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    old = Lease.acquire(store, 900, clock=at(T0))
    new = Lease.acquire(store, 900, clock=at(T0 + timedelta(seconds=901)))
    assert json.loads(store.read(LEASE_NAME))["owner"] == new.record.owner
    with pytest.raises(LeaseLost, match="taken over by another job"):
        old.renew()
    old.release()  # not its lease any more: left alone
    assert json.loads(store.read(LEASE_NAME))["owner"] == new.record.owner
    new.renew()
    new.release()
    assert not store.exists(LEASE_NAME)


def test_a_dead_process_on_this_host_loses_its_lease_before_expiry(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    child = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    child.start()
    child.join()
    foreign_lease(store, T0 + timedelta(hours=1), host=socket.gethostname(), pid=child.pid)
    taken = Lease.acquire(store, 900, clock=at(T0))
    assert json.loads(store.read(LEASE_NAME))["owner"] == taken.record.owner
    foreign_lease(store, T0 + timedelta(hours=1), host="other-host", pid=child.pid)  # elsewhere: cannot tell
    with pytest.raises(LeaseHeld, match="host other-host"):
        Lease.acquire(store, 900, clock=at(T0))


def test_an_unreadable_lease_is_replaced(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    store.write(LEASE_NAME, b"{not json")
    held = Lease.acquire(store, 900, clock=at(T0))
    assert json.loads(store.read(LEASE_NAME))["owner"] == held.record.owner


def test_keep_alive_renews_after_a_third_of_the_lease(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileBlobStore(tmp_path)
    now = [1000.0]
    monkeypatch.setattr(lease_module.time, "monotonic", lambda: now[0])
    held = Lease.acquire(store, 900, clock=at(T0))
    generation = held.generation
    now[0] += 299
    held.keep_alive()
    assert held.generation == generation  # not yet: GCS allows about one write per second per object
    now[0] += 1
    held.keep_alive()
    assert held.generation > generation


@pytest.mark.parametrize("expired", [False, True])
def test_of_threads_racing_for_the_lease_exactly_one_wins(tmp_path: Path, expired: bool) -> None:
    store = FileBlobStore(tmp_path)
    if expired:
        foreign_lease(store, T0 - timedelta(seconds=1))
    start = threading.Barrier(6)

    def attempt(_: int) -> str | None:
        start.wait()
        try:
            return Lease.acquire(store, 900, clock=at(T0)).record.owner
        except LeaseHeld:
            return None

    with ThreadPoolExecutor(6) as pool:
        owners = list(pool.map(attempt, range(6)))
    winners = [o for o in owners if o is not None]
    assert len(winners) == 1
    assert json.loads(store.read(LEASE_NAME))["owner"] == winners[0]


def _race(root: str, start: threading.Barrier, results: multiprocessing.Queue) -> None:
    start.wait()
    try:
        Lease.acquire(FileBlobStore(Path(root)), 900, clock=at(T0))
        results.put("won")
    except LeaseHeld:
        results.put("held")
    start.wait()  # stay alive until every process has tried: a dead winner could be taken over


def test_of_processes_racing_for_an_expired_lease_exactly_one_wins(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    foreign_lease(store, T0 - timedelta(seconds=1))
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_race, args=(str(tmp_path), start, results)) for _ in range(4)]
    for process in processes:
        process.start()
    outcomes = sorted(results.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(timeout=60)
    assert outcomes == ["held", "held", "held", "won"]
