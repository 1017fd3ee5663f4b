"""The chaos tier, reduced to fit `make test`: the real platform (the same components and supervision as `make
up`) under steady load through webapp's API, with dbapp, its consumer, webapp and mlapp each SIGKILLed in turn.
Every write the load sent was retried with its Idempotency-Key until accepted; afterwards each accepted
prediction and correction must be stored exactly once. `make chaos` runs every component (MLflow, the data job
between data and manifest, a trainer mid-run as well)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from platform_chaos.report import HEADER

pytestmark = pytest.mark.chaos

TARGETS = "dbapp consumer webapp mlapp"


def test_nothing_accepted_is_lost_or_stored_twice_while_components_are_killed(tmp_path: Path, logs_dir: Path) -> None:
    chaos = Path(sys.executable).with_name("chaos")
    env = {
        **os.environ,
        "CHAOS_TARGETS": TARGETS,
        "CHAOS_SETTLE_SECONDS": "3",
        "CHAOS_CLIENTS": "4",
        "CHAOS_RECOVERY_TIMEOUT": "60",
        "CHAOS_WORK_DIR": str(tmp_path / "chaos"),
    }
    env.pop("PUBSUB_EMULATOR_HOST", None)
    log_path = logs_dir / "chaos.log"
    with log_path.open("w") as log:
        finished = subprocess.run([str(chaos)], env=env, stdout=subprocess.PIPE, stderr=log, text=True, timeout=900)
    sys.stdout.write(finished.stdout)
    result = json.loads((tmp_path / "chaos" / "chaos-result.json").read_text())
    rows = {row[0]: row for row in result["table"]}
    for target in TARGETS.split():
        row = dict(zip(HEADER, rows[target], strict=True))
        assert row["kills"] == "1" and not row["note"].startswith("NOT RECOVERED"), row
        assert int(row["accepted"]) > 0, f"no write was accepted while {target} was killed: {row}"
        assert (row["lost"], row["duplicated"]) == ("0", "0"), row
    assert (result["lost"], result["duplicated"], result["gave_up"]) == (0, 0, 0), finished.stdout
    for phase, refusals in result["refusals"].items():
        for refusal in refusals:
            status, _, reason = refusal.partition(": ")
            # Only a killed webapp leaves a client without an answer; everything else is refused with a reason.
            allowed = {"503", "no answer"} if phase == "webapp" else {"503"}
            assert status in allowed and reason.strip(), (phase, refusal)
    assert result["dataset_versions_readable"] >= 1 and result["champion_served"], result
    assert result["accepted"] > 100 and finished.returncode == 0, f"see {log_path}"
