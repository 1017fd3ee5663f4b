"""When pending instream batches become a dataset version."""

from __future__ import annotations

from data_versioning.instream import BatchMarker
from data_versioning.planning import plan_commit


def batch(batch_id: str, train: int, valid: int = 0) -> BatchMarker:
    return BatchMarker(batch_id, "2026-01-01T00:00:00+00:00", {"train": train, "valid": valid}, "0" * 64)


def test_nothing_pending_commits_nothing() -> None:
    plan = plan_commit([], latest_version=3, batch_size=10)
    assert plan.version is None
    assert plan.needed == 10


def test_below_batch_size_waits_and_says_how_many_train_rows_are_missing() -> None:
    plan = plan_commit([batch("00000001-aaaaaaaa", 4, 50), batch("00000002-bbbbbbbb", 5, 50)], 0, 10)
    assert plan.version is None
    assert plan.needed == 1  # valid rows do not count towards BATCH_SIZE
    assert plan.train_rows == 9 and plan.valid_rows == 100


def test_reaching_batch_size_commits_every_pending_batch_as_the_next_version_oldest_first() -> None:
    pending = [batch("00000003-cccccccc", 6, 1), batch("00000002-bbbbbbbb", 4, 2)]
    plan = plan_commit(pending, latest_version=2, batch_size=10)
    assert plan.version == 3
    assert plan.batches == ["00000002-bbbbbbbb", "00000003-cccccccc"]
    assert plan.needed == 0
    assert (plan.train_rows, plan.valid_rows) == (10, 3)


def test_far_above_batch_size_is_still_one_version() -> None:
    plan = plan_commit([batch("00000001-aaaaaaaa", 1000)], latest_version=0, batch_size=10)
    assert plan.version == 1
    assert plan.batches == ["00000001-aaaaaaaa"]
