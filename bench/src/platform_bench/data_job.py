"""The data job on synthetic uploads: wall time, rows/s and peak memory per size, then a run with nothing new.

Each size gets fresh landing and datasets buckets under the work folder. The synthetic CSV lands where an
upload from /upload lands (`uploads/<time>-<name>.csv` in the landing bucket), then the real `data-job`
entry point runs once, corrections off (`DBAPP_URL=""`) and events off (the bench platform has no topics).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass

from common.blobstore import open_store
from common.dataset_versions import committed_versions
from platform_bench import synthetic
from platform_bench.context import BenchContext
from platform_bench.jobs import JobRun, run_job
from platform_bench.report import Row

log = logging.getLogger(__name__)

SECTION = "data_job"
SEED = 5
TARGET_ROWS = 1_000_000  # the case: this many new rows in <= 60 s and <= 1.5 GiB
TARGET_SECONDS = 60.0
TARGET_RSS_GIB = 1.5
TARGET_NOTHING_NEW_SECONDS = 5.0


@dataclass(frozen=True)
class Versioned:
    """A data-job run that committed one version: where it is and what the run cost."""

    datasets_bucket: str
    landing_bucket: str
    rows: int  # train + valid rows in the committed versions
    job: JobRun


def _job_env(ctx: BenchContext, landing: str, datasets: str) -> dict[str, str]:
    """BATCH_SIZE=1: every run commits what it read as one version, however small (the smoke test's sizes)."""
    return {
        **ctx.env(),
        "LANDING_BUCKET": landing,
        "DATASETS_BUCKET": datasets,
        "DBAPP_URL": "",
        "PUBLISH_EVENTS": "false",
        "BATCH_SIZE": "1",
    }


def _committed_rows(datasets: str) -> int:
    return sum(sum(m.rows.values()) for m in committed_versions(open_store(datasets)))


def version_csv(ctx: BenchContext, label: str, name: str, data: bytes) -> Versioned:
    """Put `data` into a fresh landing bucket as object `name`, run the data job once, check that it
    committed a version, and return it."""
    root = ctx.work_dir / SECTION / label
    shutil.rmtree(root, ignore_errors=True)
    landing, datasets = (root / "landing").as_uri(), (root / "datasets").as_uri()
    open_store(landing).write(name, data, content_type="text/csv")
    job = run_job("data-job", [], _job_env(ctx, landing, datasets), ctx.logs_dir / f"data-job-{label}.log")
    rows = _committed_rows(datasets)
    if not rows:
        raise RuntimeError(f"the data job committed no version from {name} (log {job.log_path})")
    return Versioned(datasets_bucket=datasets, landing_bucket=landing, rows=rows, job=job)


def _new_rows(ctx: BenchContext, n: int) -> tuple[Versioned, Row]:
    started = time.monotonic()
    data = synthetic.csv_bytes(n, SEED)
    generated = time.monotonic() - started
    log.info("synthetic upload generated", extra={"rows": n, "bytes": len(data), "seconds": round(generated, 1)})
    versioned = version_csv(ctx, f"{n}-rows", f"bench/synthetic-{n}-rows.csv", data)
    if versioned.rows != n:
        raise RuntimeError(f"the data job versioned {versioned.rows} of {n} valid rows (log {versioned.job.log_path})")
    job = versioned.job
    rate = n / job.seconds
    values = {
        "rows": n,
        "csv_bytes": len(data),
        "seconds": round(job.seconds, 2),
        "cpu_seconds": round(job.cpu_seconds, 2),
        "rows_per_second": round(rate),
        "peak_rss_bytes": job.peak_rss_bytes,
        "peak_rss_gib": round(job.peak_rss_gib, 3),
        "peak_rss_source": "ru_maxrss of the data-job process (os.wait4 in a launcher)",
        "generate_seconds": round(generated, 2),
    }
    log.info("data job measured", extra=values)
    summary = f"{job.seconds:.1f} s, {rate:,.0f} rows/s, peak RSS {job.peak_rss_gib:.2f} GiB"
    row = Row(SECTION, f"{n:,} new rows", summary, values)
    if n == TARGET_ROWS:
        row.target = f"<= {TARGET_SECONDS:.0f} s and peak RSS <= {TARGET_RSS_GIB} GiB"
        row.met = job.seconds <= TARGET_SECONDS and job.peak_rss_gib <= TARGET_RSS_GIB
    return versioned, row


def _nothing_new(ctx: BenchContext, largest: Versioned) -> Row:
    """The job again on the largest buckets: nothing new to read, so its time is the fixed cost of a run."""
    env = _job_env(ctx, largest.landing_bucket, largest.datasets_bucket)
    job = run_job("data-job", [], env, ctx.logs_dir / "data-job-nothing-new.log")
    if _committed_rows(largest.datasets_bucket) != largest.rows:
        raise RuntimeError(f"the data job changed the versions with nothing new to read (log {job.log_path})")
    values = {
        "history_rows": largest.rows,
        "seconds": round(job.seconds, 2),
        "cpu_seconds": round(job.cpu_seconds, 2),
        "peak_rss_bytes": job.peak_rss_bytes,
        "peak_rss_gib": round(job.peak_rss_gib, 3),
    }
    log.info("data job with nothing new measured", extra=values)
    return Row(
        SECTION,
        f"nothing new ({largest.rows:,} rows versioned)",
        f"{job.seconds:.1f} s, peak RSS {job.peak_rss_gib:.2f} GiB",
        values,
        target=f"<= {TARGET_NOTHING_NEW_SECONDS:.0f} s",
        met=job.seconds <= TARGET_NOTHING_NEW_SECONDS,
    )


def run(ctx: BenchContext) -> list[Row]:
    measured = [_new_rows(ctx, n) for n in sorted(ctx.config.data_rows)]
    largest = measured[-1][0]
    ctx.shared["versioned_datasets"] = largest.datasets_bucket
    return [row for _, row in measured] + [_nothing_new(ctx, largest)]
