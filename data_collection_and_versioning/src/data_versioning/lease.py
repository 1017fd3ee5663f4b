"""One data job at a time: a lease object, `_lease.json`, at the root of the datasets bucket.

Taking the lease is a conditional write, so of two jobs that try at once exactly one wins: created only if
absent, or, when the lease there has expired (or its holder is a dead process on this host), replaced only
at the generation that was read. Renewing and releasing are conditional on the generation this job last
wrote, so a job whose lease was taken over finds out instead of writing on.

The holder renews at its step boundaries (`keep_alive`, at most every third of the lease), always before a
commit point, so a job stalled past its expiry stops before its next commit. Expiry compares the holder's
clock with the taker's: DATA_JOB_LEASE_SECONDS must be far longer than any clock difference and any step.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from common.blobstore import BlobInfo, BlobNotFound, BlobStore, PreconditionFailed

log = logging.getLogger(__name__)

LEASE_NAME = "_lease.json"
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LeaseRecord:
    owner: str  # host:pid:random, unique per run
    host: str
    pid: int
    acquired_at: str  # ISO 8601, UTC
    expires_at: str

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> LeaseRecord:
        """`ValueError` for anything that is not a lease this code wrote."""
        try:
            doc = json.loads(data)
            record = cls(**{k: doc[k] for k in cls.__dataclass_fields__})
            record.expires()
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a data job lease: {exc}") from None
        return record

    def expires(self) -> datetime:
        return datetime.fromisoformat(self.expires_at)


class LeaseHeld(RuntimeError):
    """Another data job holds a live lease: this run must not start."""

    def __init__(self, url: str, holder: LeaseRecord, now: datetime):
        left = max(0, round((holder.expires() - now).total_seconds()))
        super().__init__(
            f"another data job holds the lease {url}: owner {holder.owner} (host {holder.host}, pid {holder.pid}), "
            f"acquired {holder.acquired_at}, expires {holder.expires_at} (in {left} s). This run did nothing; "
            "run again after that job ends or its lease expires"
        )
        self.holder = holder


class LeaseLost(RuntimeError):
    """This job's lease was taken over (it ran past its expiry): it must stop before its next commit."""


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _holder_dead(holder: LeaseRecord) -> bool:
    """Only a holder on this host can be seen to be dead; elsewhere the lease runs until it expires."""
    return holder.host == socket.gethostname() and holder.pid != os.getpid() and not _process_alive(holder.pid)


class Lease:
    """The lease this job holds. Use `acquire`, then `keep_alive` at step boundaries and `release` at the end."""

    def __init__(self, store: BlobStore, record: LeaseRecord, info: BlobInfo, seconds: int, clock: Clock):
        self.store, self.record, self.seconds, self._clock = store, record, seconds, clock
        self.generation = info.generation
        # When the lease was taken, by the store's clock: objects written before it belong to no live job.
        self.acquired_updated = info.updated
        self._renewed = time.monotonic()

    @property
    def url(self) -> str:
        return f"{self.store.url}/{LEASE_NAME}"

    @classmethod
    def acquire(cls, store: BlobStore, seconds: int, *, clock: Clock = utc_now, attempts: int = 5) -> Lease:
        """Take the lease or raise `LeaseHeld` naming the holder."""
        host, pid = socket.gethostname(), os.getpid()
        owner = f"{host}:{pid}:{secrets.token_hex(4)}"
        holder: LeaseRecord | None = None
        for _ in range(attempts):
            now = clock()
            record = LeaseRecord(owner, host, pid, now.isoformat(), (now + timedelta(seconds=seconds)).isoformat())
            try:
                return cls(store, record, store.create_if_absent(LEASE_NAME, record.to_json()), seconds, clock)
            except PreconditionFailed:
                pass
            try:
                data, current = store.read_versioned(LEASE_NAME)
            except (BlobNotFound, PreconditionFailed):
                continue  # released or rewritten meanwhile: try again
            try:
                holder = LeaseRecord.from_json(data)
            except ValueError as exc:
                log.warning(
                    "unreadable lease replaced", extra={"lease": f"{store.url}/{LEASE_NAME}", "error": str(exc)}
                )
                holder = None
            if holder is not None and holder.owner == owner:  # our own create, answered 412 on a retry
                return cls(store, record, current, seconds, clock)
            if holder is not None and holder.expires() > now and not _holder_dead(holder):
                raise LeaseHeld(f"{store.url}/{LEASE_NAME}", holder, now)
            try:
                info = store.replace_if_generation(LEASE_NAME, record.to_json(), current.generation)
            except PreconditionFailed:
                continue  # another job took it first: read again, it is now live
            if holder is not None:
                log.warning(
                    "took over the lease of a data job that is gone",
                    extra={"previous_owner": holder.owner, "expired_at": holder.expires_at,
                           "dead_process": _holder_dead(holder)},
                )  # fmt: skip
            return cls(store, record, info, seconds, clock)
        if holder is not None:
            raise LeaseHeld(f"{store.url}/{LEASE_NAME}", holder, clock())
        raise RuntimeError(f"could not take the lease {store.url}/{LEASE_NAME} in {attempts} attempts")

    def keep_alive(self) -> None:
        """Renew once a third of the lease has passed (GCS allows about one write per second per object)."""
        if time.monotonic() - self._renewed >= self.seconds / 3:
            self.renew()

    def renew(self) -> None:
        """Push the expiry forward; `LeaseLost` if another job has taken the lease."""
        now = self._clock()
        record = LeaseRecord(
            self.record.owner, self.record.host, self.record.pid, self.record.acquired_at,
            (now + timedelta(seconds=self.seconds)).isoformat(),
        )  # fmt: skip
        try:
            info = self.store.replace_if_generation(LEASE_NAME, record.to_json(), self.generation)
        except PreconditionFailed:
            ours = self._ours_after_retry()
            if ours is None:
                raise LeaseLost(
                    f"{self.url} was taken over by another job: this run ran past its lease "
                    f"({self.seconds} s, DATA_JOB_LEASE_SECONDS) and stops before its next commit"
                ) from None
            info = ours
        self.record, self.generation, self._renewed = record, info.generation, time.monotonic()
        log.debug("lease renewed", extra={"expires_at": record.expires_at})

    def _ours_after_retry(self) -> BlobInfo | None:
        """A write the store retried can answer 412 although it succeeded: then the lease still names us."""
        try:
            data, info = self.store.read_versioned(LEASE_NAME)
            return info if LeaseRecord.from_json(data).owner == self.record.owner else None
        except (BlobNotFound, PreconditionFailed, ValueError):
            return None

    def release(self) -> None:
        """Delete the lease if it is still ours; never raises (the run's own outcome matters more)."""
        try:
            self.store.delete_if_generation(LEASE_NAME, self.generation)
            log.info("lease released", extra={"lease": self.url})
        except PreconditionFailed:
            log.warning("lease not released: another job holds it now", extra={"lease": self.url})
        except Exception:
            log.exception("lease not released: it expires by itself", extra={"expires_at": self.record.expires_at})
