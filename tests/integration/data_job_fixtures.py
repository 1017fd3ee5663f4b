"""Helpers for the data job's integration tests: run `python -m data_versioning` as a real process against
`file://` or `gs://` buckets, and read back everything it wrote."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from common.blobstore import BlobStore, open_store
from common.csv_validation import validate_csv
from common.dataset_versions import committed_versions, read_split
from common.schema import TRAINING_COLUMNS
from data_versioning import instream, state

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dataset" / "data.csv"
# Inherited variables that would change what the job does; each test sets what it needs.
_SCRUBBED = (
    "PUBSUB_EMULATOR_HOST", "GCP_PROJECT", "GOOGLE_CLOUD_PROJECT", "PUBLISH_EVENTS", "DATA_JOB_FAILPOINT",
    "REQUIRE_CORRECTIONS", "DBAPP_URL", "BATCH_SIZE", "TRAIN_TEST_SPLIT", "CORRECTIONS_PAGE_SIZE",
    "DATA_JOB_LEASE_SECONDS", "DATA_JOB_MAX_OBJECT_BYTES", "CORRECTION_MAX_FACTOR", "CORRECTION_RANGE_FACTOR",
)  # fmt: skip


@dataclass
class JobRun:
    returncode: int
    logs: list[dict[str, Any]]
    stderr: str

    def messages(self, severity: str | None = None) -> list[str]:
        return [e["message"] for e in self.logs if severity is None or e["severity"] == severity]

    @property
    def summary(self) -> dict[str, Any]:
        found = [e for e in self.logs if e["message"] == "data job summary"]
        assert found, f"no summary logged (exit {self.returncode}):\n{self.messages()}\n{self.stderr[-2000:]}"
        return found[0]


def _env(landing: str, datasets: str, env: dict[str, str]) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    full.update(LANDING_BUCKET=landing, DATASETS_BUCKET=datasets, PUBLISH_EVENTS="false", DBAPP_URL="")
    full.update(env)
    return full


def run_job(landing: str, datasets: str, *, in_process: bool = False, **env: str) -> JobRun:
    """One run of the job, publishing and corrections off unless `env` turns them on.

    By default a fresh `python -m data_versioning` process (the real thing, and the only way a failpoint can
    kill it); `in_process=True` calls the same entry point in this interpreter, which saves the ~2 s of
    importing pandas per run.
    """
    full = _env(landing, datasets, env)
    if in_process:
        return _run_in_process(full)
    proc = subprocess.run(
        [sys.executable, "-m", "data_versioning"], env=full, capture_output=True, text=True, timeout=120
    )
    logs = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]  # every line is JSON
    return JobRun(proc.returncode, logs, proc.stderr)


def _run_in_process(full: dict[str, str]) -> JobRun:
    assert "DATA_JOB_FAILPOINT" not in full, "a failpoint would kill the test process: use a subprocess"
    from data_versioning.__main__ import main

    buffer = io.StringIO()
    root = logging.getLogger()
    saved_env, saved_handlers, saved_level = dict(os.environ), root.handlers[:], root.level
    os.environ.clear()
    os.environ.update(full)
    try:
        with contextlib.redirect_stdout(buffer):  # main() points the JSON log handler at this stdout
            try:
                main([])
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    logs = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    return JobRun(code, logs, "")


def sample_accepted() -> pd.DataFrame:
    return validate_csv(SAMPLE.read_bytes(), "sample").accepted


def row_counter(frame: pd.DataFrame) -> Counter:
    return Counter(frame.loc[:, list(TRAINING_COLUMNS)].itertuples(index=False, name=None))


def versioned_rows(store: BlobStore) -> pd.DataFrame:
    frames = [read_split(store, m, s).assign(split=s) for m in committed_versions(store) for s in ("train", "valid")]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*TRAINING_COLUMNS, "split"])


def instream_rows(store: BlobStore) -> pd.DataFrame:
    frames = [instream.read_batch(store, m) for m in state.scan(store).pending]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*TRAINING_COLUMNS, "split"])


def all_rows(store: BlobStore) -> pd.DataFrame:
    """Every row the job holds: committed versions and committed instream batches."""
    return pd.concat([versioned_rows(store), instream_rows(store)], ignore_index=True)


def snapshot(store: BlobStore) -> dict[str, tuple[int, str]]:
    """name -> (generation, content hash) of every object, to prove a run wrote nothing."""
    return {b.name: (b.generation, hashlib.sha256(store.read(b.name)).hexdigest()) for b in store.list()}


def open_buckets(landing: str, datasets: str) -> tuple[BlobStore, BlobStore]:
    return open_store(landing), open_store(datasets)
