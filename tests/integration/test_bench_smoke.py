"""`make bench` keeps working: the real `bench` command, every section, tiny sizes and one-second runs.

No speed is asserted here (targets live in `make bench` itself); this checks that every section runs against
real servers and real jobs, that every server answered without errors, and that the table and the JSON agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from platform_bench.config import SECTIONS

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

SMOKE_ENV = {
    "BENCH_DATA_ROWS": "3000",
    "BENCH_DURATION": "1",
    "BENCH_ROUNDS": "1",
    "BENCH_CONCURRENCY": "4",
    "BENCH_BATCH_RECORDS": "50",
}


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    if not shutil.which("wrk"):
        pytest.skip("wrk is not installed (Debian package wrk; `make services` installs it as root)")
    folder = tmp_path_factory.mktemp("bench")
    env = {
        **os.environ,
        **SMOKE_ENV,
        "BENCH_WORK_DIR": str(folder / "work"),
        "BENCH_RESULTS_DIR": str(folder / "results"),
    }
    bench = Path(sys.executable).with_name("bench")
    done = subprocess.run(
        [str(bench)], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, f"bench failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    document = json.loads((folder / "results" / "latest.json").read_text())
    return done, document


def test_every_section_reports_rows(bench_run) -> None:
    _, document = bench_run
    sections = {row["section"] for row in document["rows"]}
    assert sections == set(SECTIONS)
    assert document["machine"]["cores"] == os.cpu_count()


def test_every_server_answered_every_request(bench_run) -> None:
    _, document = bench_run
    loads = [row for row in document["rows"] if "requests_per_second" in row["values"]]
    targets = {row["values"]["target"] for row in loads}
    assert {"mlapp", "flask ceiling", "mlflow serve", "mlserver", "bentoml", "bentoml /predict"} <= targets
    assert "flask ceiling /predict/batch" in targets
    for row in loads:
        assert row["values"]["requests"] > 0, row
        assert row["values"]["errors"] == 0, row


def test_the_data_job_versions_every_row_and_a_run_with_nothing_new_adds_nothing(bench_run) -> None:
    _, document = bench_run
    rows = [row for row in document["rows"] if row["section"] == "data_job"]
    assert any(row["values"].get("rows") == 3000 for row in rows), rows
    assert all(row["values"].get("peak_rss_bytes", 1) > 0 for row in rows)


def test_the_printed_table_is_the_json(bench_run) -> None:
    done, document = bench_run
    for row in document["rows"]:
        assert row["case"] in done.stdout and row["summary"] in done.stdout, row["case"]
