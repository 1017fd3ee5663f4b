"""mlapp's input-drift window (`mlapp.drift_window`): the ring keeps the last houses only, batches wrap around
like single houses, the PSI is recomputed every tenth of a window; and through Flask's test client, each
prediction route feeds the window and `/metrics` shows the PSI rising when shifted houses arrive. A model without
a reference profile exports nothing; a swap starts an empty window."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
from flask import Flask
from mlflow.entities.model_registry import ModelVersion, ModelVersionTag

from common.contracts.drift import ReferenceProfile
from common.drift import reference_profile
from common.schema import FIELD_NAMES
from common.settings import ConfigError
from mlapp import drift_window
from mlapp.app import create_app
from mlapp.config import MlappConfig
from mlapp.drift_window import DriftWindow
from mlapp.metrics import REGISTRY
from mlapp.model_holder import ModelHolder, ServingModel
from tests import mlapp_fixtures as fx

FAMILY = "linear_regression"
INFO = {"name": "house-price", "version": 7, "family": FAMILY, "dataset_version": 3, "holdout_mae": 98765.4}
PSI = "model_input_drift_psi"
WINDOW = "model_input_drift_window_requests"


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return reference_profile(fx.sample_frame().loc[:, list(FIELD_NAMES)])


def shifted(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same houses, twice as large."""
    return [{**r, "sqft_living": r["sqft_living"] * 2, "sqft_above": r["sqft_above"] * 2} for r in records]


def build(profile: ReferenceProfile | None, window: int = 200) -> tuple[Flask, ModelHolder]:
    env = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "DRIFT_WINDOW_RECORDS": str(window)}
    config = MlappConfig.from_env(env)
    holder = ModelHolder(config.settings.mlflow_tracking_uri, "house-price", drift_window=config.drift_window)
    holder.install(ServingModel.from_pipeline(fx.fitted(FAMILY), INFO, profile=profile))
    return create_app(config=config, holder=holder, background=False), holder


def exported(feature: str) -> float | None:
    return REGISTRY.get_sample_value(PSI, {"feature": feature})


def send(app: Flask, route: str, records: list[dict[str, Any]]) -> None:
    """The houses through one route: one request each (`/predict`), or batches of 50."""
    client = app.test_client()
    if route == "predict":
        assert all(client.post("/predict", json=r).status_code == 200 for r in records)
        return
    for start in range(0, len(records), 50):
        part = records[start : start + 50]
        if route == "batch":
            response = client.post("/predict/batch", json={"records": part})
        else:
            inputs = [
                {"name": f, "shape": [len(part)], "datatype": "BYTES" if isinstance(part[0][f], str) else "FP64"}
                | {"data": [r[f] for r in part]}
                for f in FIELD_NAMES
            ]
            response = client.post("/v2/models/house-price/infer", json={"inputs": inputs})
        assert response.status_code == 200, response.json


def test_the_window_keeps_only_the_last_houses(profile: ReferenceProfile) -> None:
    old, new = fx.sample_records(10), shifted(fx.sample_records(10, offset=10))
    window, fresh = DriftWindow(profile, 10), DriftWindow(profile, 10)
    for record in old + new:
        window.add_one(record)
    for record in new:
        fresh.add_one(record)
    assert window.held == 10 and window.psi() == fresh.psi()
    assert window.psi()[0] != DriftWindow(profile, 20).psi()[0]  # sanity: an empty window has no PSI at all
    assert DriftWindow(profile, 20).psi() == ({}, 0)


def test_batches_wrap_around_the_ring_like_single_houses(profile: ReferenceProfile) -> None:
    records = fx.sample_records(37, offset=3)
    one_by_one, in_batches = DriftWindow(profile, 10), DriftWindow(profile, 10)
    for record in records:
        one_by_one.add_one(record)
    for start in range(0, 37, 7):
        part = records[start : start + 7]
        in_batches.add_rows(in_batches.binner.bins_columns({f: [r[f] for r in part] for f in FIELD_NAMES}))
    assert in_batches.held == one_by_one.held == 10
    np.testing.assert_array_equal(in_batches._ring, one_by_one._ring)
    assert in_batches.psi() == one_by_one.psi()


def test_the_psi_is_due_every_tenth_of_the_window(profile: ReferenceProfile) -> None:
    window = DriftWindow(profile, 50)
    due = [window.add_one(r) for r in fx.sample_records(12)]
    assert due == [False] * 4 + [True] * 8  # due from the fifth house until it is computed
    window.psi()
    assert not window.add_one(fx.record())


@pytest.mark.parametrize("route", ["predict", "batch", "infer"])
def test_each_route_feeds_the_window_and_the_psi_rises_with_shifted_houses(
    profile: ReferenceProfile, route: str
) -> None:
    app, _holder = build(profile, window=200)
    assert exported("sqft_living") is None and REGISTRY.get_sample_value(WINDOW) == 0
    send(app, route, fx.sample_records(200, offset=1000))
    assert REGISTRY.get_sample_value(WINDOW) == 200
    normal = exported("sqft_living")
    assert normal is not None and normal < 0.1
    send(app, route, shifted(fx.sample_records(200, offset=2000)))
    drifted = exported("sqft_living")
    assert drifted is not None and drifted > 0.25 > normal
    assert exported("yr_built") is not None and exported("yr_built") < 0.25  # type: ignore[operator]
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert fx.metric_samples(text, PSI) and ('feature="sqft_living"', drifted) in fx.metric_samples(text, PSI)


def test_a_model_without_a_profile_exports_no_psi_and_says_so_once(
    profile: ReferenceProfile, caplog: pytest.LogCaptureFixture
) -> None:
    app, holder = build(profile, window=20)
    send(app, "predict", fx.sample_records(20))
    assert exported("sqft_living") is not None
    logging.getLogger().addHandler(caplog.handler)  # create_app routed the root logger to stdout only
    caplog.set_level(logging.INFO, logger="mlapp.drift_window")
    holder.install(ServingModel.from_pipeline(fx.fitted(FAMILY), {**INFO, "version": 8}))
    send(app, "predict", fx.sample_records(40))
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert fx.metric_samples(text, PSI) == [] and fx.metric_samples(text, WINDOW) == [("", 0.0)]
    said = [r for r in caplog.records if "has no reference profile" in r.getMessage()]
    assert len(said) == 1 and said[0].model_version == 8


def test_a_swap_starts_an_empty_window_and_requests_on_the_old_model_record_nothing(profile: ReferenceProfile) -> None:
    app, holder = build(profile, window=20)
    old = holder.current
    assert old is not None
    send(app, "predict", fx.sample_records(15))
    assert holder.drift.window is not None and holder.drift.window.held == 15
    holder.install(ServingModel.from_pipeline(fx.fitted(FAMILY), {**INFO, "version": 8}, profile=profile))
    assert holder.drift.window.held == 0 and REGISTRY.get_sample_value(WINDOW) == 0
    holder.drift.record_one(old, fx.record())
    holder.drift.record_columns(old, {f: [v] for f, v in fx.record().items()}, 1)
    assert holder.drift.window.held == 0


def test_a_profile_that_cannot_be_read_costs_only_the_drift_measurement(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(tracking_uri: str, version: ModelVersion) -> ReferenceProfile:
        raise OSError("artifact store unreachable")

    monkeypatch.setattr(drift_window.registry, "load_profile", broken)
    tag = ModelVersionTag("reference_profile", "reference_profile.json")
    version = ModelVersion("house-price", "9", 0, tags=[tag], run_id="r")
    assert drift_window.load_profile("http://127.0.0.1:9", version) is None
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.model_version == 9 and "artifact store unreachable" in warning.error


def test_the_window_size_comes_from_the_environment() -> None:
    assert MlappConfig.from_env({}).drift_window == 1000
    assert MlappConfig.from_env({"DRIFT_WINDOW_RECORDS": "500"}).drift_window == 500
    with pytest.raises(ConfigError, match="DRIFT_WINDOW_RECORDS"):
        MlappConfig.from_env({"DRIFT_WINDOW_RECORDS": "5"})
