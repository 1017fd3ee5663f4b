"""The whole platform, started exactly as `make up` starts it, driven like a user would drive it; then the same
again with every component from its image, as `make up-containers` starts it (where a container engine works).

The tests run in file order against one running platform (starting it costs minutes on two cores):
1. the first `make up` turns the sample data into a dataset version, trains both families, sets a champion
   and serves it;
2. a person predicts a price in a real browser (Debian's chromium through Playwright), corrects it and sees
   the correction in the history;
3. `make pipeline` with no new data trains nothing;
4. new data (the correction and about 1,400 new rows in the landing bucket) -> `make data-job` -> a new version ->
   both families retrain without anyone starting a trainer (the dispatcher; on the container platform, which runs
   no dispatcher, `make pipeline`), and mlapp serves whatever the alias points at without a restart;
5. SIGTERM stops every component; a second `make up` keeps every prediction, correction, version and model.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests
from mlflow import MlflowClient

from common.blobstore import open_store
from common.dataset_versions import committed_versions
from common.schema import INPUT_FIELDS
from local_platform.processes import port_open
from tests.e2e.platform_runner import PORT_NAMES, REPO, Platform, new_platform

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO / "test-artifacts"))
HOUSE = {f.name: f.example for f in INPUT_FIELDS}


@pytest.fixture(scope="module", params=["processes", "containers"])
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Platform, object]]:
    up_args: tuple[str, ...] = ()
    if request.param == "containers":
        request.getfixturevalue("image_tag")  # builds every image, or skips (printing why) where no engine works
        built = subprocess.run([str(REPO / "images" / "pubsub_emulator.sh")], capture_output=True, text=True)
        assert built.returncode == 0, built.stderr
        up_args = ("--containers",)
    logs = tmp_path_factory.mktemp(f"e2e-logs-{request.param}")
    running = new_platform(tmp_path_factory.mktemp(f"platform-data-{request.param}"), logs, up_args)
    process = running.up()
    try:
        running.wait_ready(process)
        yield running, process
    finally:
        Platform.stop(process)


def _registry(platform: Platform) -> MlflowClient:
    return MlflowClient(platform.url("MLFLOW_PORT"))


def _model_versions(platform: Platform) -> list:
    return _registry(platform).search_model_versions("name='house-price'")


def _wait(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(message)


def test_first_start_versions_the_sample_data_and_serves_a_champion(platform) -> None:
    running, _ = platform
    datasets = open_store((running.data_dir / "buckets" / "datasets").as_uri())
    assert [m.version for m in committed_versions(datasets)] == [1]
    versions = _model_versions(running)
    assert sorted(v.tags["family"] for v in versions) == ["gradient_boosting", "linear_regression"]
    assert {v.tags["dataset_version"] for v in versions} == {"1"}
    champion = _registry(running).get_model_version_by_alias("house-price", "champion")
    assert champion.tags["promotion_decision"] == "promoted"

    info = requests.get(running.url("MLAPP_PORT") + "/model-info", timeout=10).json()
    assert str(info["version"]) == champion.version
    answer = requests.post(running.url("MLAPP_PORT") + "/predict", json=HOUSE, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] > 0


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_a_person_predicts_corrects_and_sees_the_correction(platform) -> None:
    from playwright.sync_api import sync_playwright

    running, _ = platform
    web = running.url("WEBAPP_PORT")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    street = f"Unit {int(time.time()) % 10000}, 18810 Densmore Ave N"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.goto(web + "/predict_page")
            for name, value in HOUSE.items():
                page.fill(f"#f-{name}", str(street if name == "street" else value))
            page.click("button[type=submit]")
            price_text = page.inner_text("[data-testid=price]")
            assert price_text.startswith("$")
            predicted = float(price_text.replace("$", "").replace(",", ""))
            assert predicted > 0
            page.screenshot(path=str(ARTIFACTS / "result-page.png"), full_page=True)

            page.fill("#f-corrected_price", "512345")
            page.click("text=Submit correction")
            assert "512,345" in page.inner_text("[data-testid=corrected-price]")

            # dbapp stores the correction from the bus; the history page reads it back from dbapp.
            def correction_listed() -> bool:
                page.goto(web + "/show_predictions?tab=corrections")
                return street in page.content() and "512,345" in page.content()

            _wait(correction_listed, 30, "the correction never appeared on /show_predictions")
            page.screenshot(path=str(ARTIFACTS / "history-page.png"), full_page=True)
            page.goto(web + "/show_predictions?tab=predictions")
            assert street in page.content()

            # /model: a table per family and the MAE chart; the correction becomes live MAE of the version that
            # priced the house once dbapp's aggregate is refreshed (cached 30 s).
            def live_mae_listed() -> bool:
                page.goto(web + "/model")
                tables = " ".join(page.locator("table.versions").all_inner_texts())
                return re.search(r"\d+ corrections?", tables) is not None

            _wait(live_mae_listed, 60, "no live MAE appeared on /model")
            assert page.locator("table.versions").count() == 2 and page.locator("svg.mae-chart").count() == 1
            page.screenshot(path=str(ARTIFACTS / "model-page.png"), full_page=True)
        finally:
            browser.close()


def test_pipeline_without_new_data_trains_nothing(platform) -> None:
    running, _ = platform
    before = len(_model_versions(running))
    running.run_pipeline()
    assert len(_model_versions(running)) == before


def test_new_data_makes_a_version_retrains_and_mlapp_follows_the_alias(platform) -> None:
    running, _ = platform
    correction = {"record": HOUSE, "corrected_price": 333000.0}
    stored = requests.post(
        running.url("DBAPP_PORT") + "/store", json={"table": "collection_2", "data": correction}, timeout=10
    )
    assert stored.status_code == 201, stored.text
    sample = pd.read_csv(REPO / "sample_dataset" / "data.csv")
    more = sample[sample["price"] > 0].head(1400).copy()
    more["price"] = more["price"] * 1.05
    landing = open_store((running.data_dir / "buckets" / "landing").as_uri())
    landing.write("uploads/more.csv", more.to_csv(index=False).encode())
    before = len(_model_versions(running))
    dispatched = not running.up_args  # the process platform runs the dispatcher

    running.run_pipeline("data-job" if dispatched else "pipeline")

    datasets = open_store((running.data_dir / "buckets" / "datasets").as_uri())
    manifests = committed_versions(datasets)
    assert [m.version for m in manifests] == [1, 2]
    assert manifests[1].corrections_cursor is not None
    _wait(lambda: len(_model_versions(running)) >= before + 2, 600, "no new version of both families within 600 s")
    time.sleep(3 if dispatched else 0)  # a third version would be a duplicate run of the same dataset version
    versions = _model_versions(running)
    assert len(versions) == before + 2
    assert {v.tags["dataset_version"] for v in versions} == {"1", "2"}
    champion = _registry(running).get_model_version_by_alias("house-price", "champion").version

    def serving_champion() -> bool:
        info = requests.get(running.url("MLAPP_PORT") + "/model-info", timeout=5)
        return info.ok and str(info.json()["version"]) == champion

    _wait(serving_champion, 30, f"mlapp did not serve champion v{champion} within 30 s")


def _correction_ids(running) -> set[str]:
    listed = requests.get(running.url("DBAPP_PORT") + "/retrieve/collection_2", params={"limit": 500}, timeout=10)
    return {item["event_id"] for item in listed.json()["data"]}


def test_sigterm_stops_everything_and_a_restart_keeps_all_data(platform) -> None:
    running, process = platform
    corrections_before = _correction_ids(running)
    versions_before = len(_model_versions(running))
    # Accepted just before the stop: still on the (in-memory) emulator, unless the consumer drains before it stops.
    accepted = set()
    for number in range(40):
        answer = requests.post(
            running.url("WEBAPP_PORT") + "/api/corrections",
            json={"record": {**HOUSE, "street": f"{number} Last Minute Lane"}, "corrected_price": 500_000 + number},
            headers={"Idempotency-Key": f"last-minute-{number}"},
            timeout=10,
        )
        assert answer.status_code == 202, answer.text
        accepted.add(answer.json()["event_id"])

    assert Platform.stop(process) == 0
    for name in PORT_NAMES:
        assert not port_open("127.0.0.1", int(running.env[name])), f"{name} still open after SIGTERM"

    again = running.up("--skip-pipeline", log_name="platform-up-2.log")
    try:
        running.wait_ready(again, log_name="platform-up-2.log", timeout=300)
        assert len(_model_versions(running)) == versions_before
        assert _correction_ids(running) == corrections_before | accepted, "corrections accepted before the stop"
        answer = requests.post(running.url("MLAPP_PORT") + "/predict", json=HOUSE, timeout=10)
        assert answer.status_code == 200, answer.text
    finally:
        assert Platform.stop(again) == 0
