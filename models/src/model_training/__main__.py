"""`train`: run the shared trainer for model families under the models folder.

    train --family linear_regression [--family gradient_boosting]
    train --all          every family in turn (a failure does not stop the others)
    train --list         the family names, one a line

Exit codes, once every selected family was tried:
    0  every family trained, was already trained, or had nothing to train
    1  some family failed (the error is in the "training failed" log entry)
    2  usage or configuration error
    3  no family failed, but some promotion decision was deferred: the current champion could not be scored
       because of an infrastructure fault (MLflow or storage unavailable, an unknown error), so the new
       version is registered with promotion_decision=deferred and the alias did not move; the next run
       decides again for that version without retraining. The reasons are in the "promotion deferred" log entry.

Configuration comes from the environment (`common.settings`: DATASETS_BUCKET, MLFLOW_TRACKING_URI,
MODEL_NAME, CHAMPION_ALIAS, GCP_PROJECT / PUBSUB_EMULATOR_HOST), plus MODELS_DIR (where the family folders
are) and PUBLISH_EVENTS=false to skip the `model.promoted` event (also skipped when no bus is configured).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from common.jsonlog import configure_logging
from common.settings import ConfigError
from common.training import FamilyError, FamilySpec, TrainerConfig, discover_families, train_family
from common.training.config import SERVICE

log = logging.getLogger(SERVICE)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DEFERRED = 3


def default_models_dir() -> Path:
    """The `models/` folder this package lives in (a repo checkout), else ./models: where the families are when
    MODELS_DIR is unset."""
    beside = Path(__file__).resolve().parents[2]
    if any((child / "family.py").is_file() for child in beside.iterdir() if child.is_dir()):
        return beside
    return (Path.cwd() / "models").resolve()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="train",
        description="Train model families on the latest dataset version.",
        epilog=(
            f"exit codes: 0 done; {EXIT_FAILED} a family failed; {EXIT_USAGE} usage or configuration error; "
            f"{EXIT_DEFERRED} a promotion decision was deferred (the champion could not be scored because of an "
            "infrastructure fault; the next run decides again)"
        ),
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--family", action="append", metavar="NAME", help="a family folder name (repeatable)")
    which.add_argument("--all", action="store_true", help="every family, one after the other")
    which.add_argument("--list", action="store_true", help="print the family names and exit")
    return parser.parse_args(argv)


def select(families: dict[str, FamilySpec], args: argparse.Namespace) -> list[FamilySpec]:
    if args.all:
        return list(families.values())
    unknown = [name for name in args.family if name not in families]
    if unknown:
        known = ", ".join(families) or "none"
        raise FamilyError(f"unknown family {', '.join(unknown)} (families: {known})")
    return [families[name] for name in dict.fromkeys(args.family)]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # stdout carries JSON log lines only; the run URL is in the "training finished" log entry instead.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    try:
        config = TrainerConfig.from_env(os.environ, default_models_dir=default_models_dir())
        configure_logging(SERVICE)
    except ConfigError as exc:
        sys.stderr.write(f"train: configuration error: {exc}\n")
        return EXIT_USAGE
    folder = config.models_dir
    if args.list:
        try:
            families = discover_families(folder)
        except FamilyError as exc:
            sys.stderr.write(f"train: {exc}\n")
            return EXIT_USAGE
        sys.stdout.writelines(f"{name}\n" for name in families)
        return 0

    try:
        selected = select(discover_families(folder), args)
    except FamilyError as exc:
        log.error("%s", exc, extra={"models_dir": str(folder)})
        return EXIT_USAGE

    settings = config.settings
    publisher = None
    if not config.publish_events:
        log.info("events are off (PUBLISH_EVENTS=false, or no bus configured): promotions are not announced")
    else:
        from common.bus import Publisher

        publisher = Publisher(settings.gcp_project)
    failed: list[str] = []
    deferred: dict[str, str] = {}  # family -> reason
    for spec in selected:
        try:
            result = train_family(spec, settings, publisher=publisher, threads=config.train_threads)
        except Exception:
            log.exception("training failed", extra={"family": spec.name})
            failed.append(spec.name)
            continue
        if result.decision is not None and result.decision.deferred:
            deferred[spec.name] = result.decision.reason
            log.error(
                "promotion deferred",
                extra={"family": spec.name, "model_version": result.model_version, "reason": result.decision.reason},
            )
    if failed:
        log.error("some families failed", extra={"failed": failed, "tried": [s.name for s in selected]})
        return EXIT_FAILED
    if deferred:
        log.error("some promotion decisions were deferred to the next run", extra={"deferred": deferred})
        return EXIT_DEFERRED
    return 0


if __name__ == "__main__":
    sys.exit(main())
