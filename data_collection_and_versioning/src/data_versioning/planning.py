"""Whether the pending instream batches become a version now: yes once they hold BATCH_SIZE train rows."""

from __future__ import annotations

from dataclasses import dataclass

from data_versioning.instream import BatchMarker


@dataclass(frozen=True)
class CommitPlan:
    version: int | None  # the version to commit, None when there are not enough train rows yet
    batches: list[str]  # every pending batch, oldest first: a version absorbs them all
    train_rows: int
    valid_rows: int
    needed: int  # train rows still missing (0 when committing)


def plan_commit(pending: list[BatchMarker], latest_version: int, batch_size: int) -> CommitPlan:
    ordered = sorted(pending, key=lambda b: b.batch_id)
    train = sum(b.rows.get("train", 0) for b in ordered)
    valid = sum(b.rows.get("valid", 0) for b in ordered)
    ready = bool(ordered) and train >= batch_size
    return CommitPlan(
        version=latest_version + 1 if ready else None,
        batches=[b.batch_id for b in ordered],
        train_rows=train,
        valid_rows=valid,
        needed=0 if ready else batch_size - train,
    )
