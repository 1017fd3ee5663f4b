"""`data-job` / `python -m data_versioning`: one run of the data job, then exit.

Exit codes: 0 done; 1 unexpected failure; 2 configuration error; 3 a version was committed but its event could
not be published (the next run publishes it); 4 corrections are required and dbapp could not deliver them;
5 another data job holds the lease (this run did nothing); 6 this run's lease was taken over while it ran
(it stopped before its next commit; raise DATA_JOB_LEASE_SECONDS if runs are that long).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import asdict

from common.jsonlog import configure_logging
from common.settings import ConfigError
from data_versioning.config import SERVICE, JobConfig
from data_versioning.job import CorrectionsRequired, run
from data_versioning.lease import LeaseHeld, LeaseLost

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_PUBLISH, EXIT_CORRECTIONS = 0, 1, 2, 3, 4
EXIT_LEASE_HELD, EXIT_LEASE_LOST = 5, 6


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="data-job", description=__doc__)
    parser.add_argument(
        "--publish-events",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="publish dataset-versions events (default: PUBLISH_EVENTS, else on when a bus is configured)",
    )
    parser.add_argument(
        "--require-corrections",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fail when dbapp is unreachable instead of continuing without corrections (REQUIRE_CORRECTIONS)",
    )
    return parser


def execute(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    log = logging.getLogger(SERVICE)
    try:
        config = JobConfig.from_env(
            os.environ, publish=args.publish_events, require_corrections=args.require_corrections
        )
    except ConfigError as exc:
        log.error(f"configuration error: {exc}")
        return EXIT_CONFIG
    settings = config.settings
    log.info(
        "data job starting",
        extra={"landing": settings.landing_bucket, "datasets": settings.datasets_bucket,
               "batch_size": settings.batch_size, "train_test_split": settings.train_test_split,
               "dbapp_url": settings.dbapp_url, "publish_events": config.publish_events,
               "lease_seconds": config.lease_seconds, "max_object_bytes": config.max_object_bytes},
    )  # fmt: skip
    started = time.monotonic()
    try:
        summary = run(config)
    except CorrectionsRequired as exc:
        log.error(str(exc))
        return EXIT_CORRECTIONS
    except LeaseHeld as exc:
        log.error(str(exc), extra={"holder": exc.holder.owner, "expires_at": exc.holder.expires_at})
        return EXIT_LEASE_HELD
    except LeaseLost as exc:
        log.error(str(exc))
        return EXIT_LEASE_LOST
    except Exception:
        log.exception("data job failed; nothing committed by this run is lost, rerun it after fixing the cause")
        return EXIT_FAILED
    doc = asdict(summary)
    doc.pop("files")
    log.info("data job summary", extra={**doc, "seconds": round(time.monotonic() - started, 3)})
    if summary.publish_error:
        log.error(f"data job finished but publishing failed: {summary.publish_error}")
        return EXIT_PUBLISH
    return EXIT_OK


def main(argv: list[str] | None = None) -> None:
    try:
        configure_logging(SERVICE)
    except ConfigError as exc:
        sys.stderr.write(f"data-job: {exc}\n")
        sys.exit(EXIT_CONFIG)
    sys.exit(execute(argv))


if __name__ == "__main__":
    main()
