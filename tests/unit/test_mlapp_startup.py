"""mlapp's configuration and start-up: bad settings fail naming the variable; with the model registry unreachable
the app still starts, stays alive, and says why it cannot predict instead of inventing a price."""

from __future__ import annotations

import re

import pytest

from common.events import Event
from common.settings import ConfigError
from mlapp.app import create_app
from mlapp.config import DEFAULT_MAX_BATCH, DEFAULT_POLL_SECONDS, MlappConfig
from mlapp.metrics import REGISTRY
from mlapp.model_holder import ModelHolder, safe_uri
from mlapp.promotions import PromotionSubscriber, subscription_name
from tests import mlapp_fixtures as fx


def test_defaults_and_bus_selection() -> None:
    config = MlappConfig.from_env({})
    assert (config.poll_seconds, config.max_batch) == (DEFAULT_POLL_SECONDS, DEFAULT_MAX_BATCH)
    assert (config.settings.model_name, config.settings.champion_alias) == ("house-price", "champion")
    assert not config.bus_enabled  # no project and no emulator: alias polling only
    assert MlappConfig.from_env({"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}).settings.gcp_project == "local-project"
    assert MlappConfig.from_env({"GCP_PROJECT": "prod-project"}).bus_enabled
    tuned = MlappConfig.from_env({"MODEL_POLL_SECONDS": "0.5", "MAX_BATCH_RECORDS": "50", "MODEL_NAME": "m"})
    assert (tuned.poll_seconds, tuned.max_batch, tuned.settings.model_name) == (0.5, 50, "m")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MODEL_POLL_SECONDS": "soon"}, "MODEL_POLL_SECONDS must be a number, got 'soon'"),
        ({"MODEL_POLL_SECONDS": "0"}, "MODEL_POLL_SECONDS must be greater than 0, got 0"),
        ({"MODEL_POLL_SECONDS": "inf"}, "MODEL_POLL_SECONDS must be a finite number, got 'inf'"),
        ({"MAX_BATCH_RECORDS": "1.5"}, "MAX_BATCH_RECORDS must be a whole number, got '1.5'"),
        ({"MAX_BATCH_RECORDS": "0"}, "MAX_BATCH_RECORDS must be at least 1, got 0"),
    ],
)
def test_bad_settings_fail_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        MlappConfig.from_env(env)


def test_subscription_names_are_unique_and_valid_for_pubsub() -> None:
    names = {subscription_name() for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}", name), name
        assert name.startswith("mlapp-")


def test_credentials_never_appear_in_messages() -> None:
    assert safe_uri("https://user:secret@mlflow.example.com:8443/path") == "https://mlflow.example.com:8443/path"
    assert safe_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_starts_and_answers_503_while_the_registry_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    from local_platform.processes import free_port

    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = MlappConfig.from_env({"MLFLOW_TRACKING_URI": uri, "MODEL_POLL_SECONDS": "60"})
    holder = ModelHolder(uri, "house-price")
    before = REGISTRY.get_sample_value("model_load_failures_total", {"reason": "registry_unavailable"}) or 0.0
    app = create_app(config=config, holder=holder, startup_wait_seconds=30)
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        response = client.post("/predict", json=fx.record())
        assert response.status_code == 503
        assert response.json["error"].startswith(f"no model loaded yet: the model registry at {uri} is unreachable")
        assert client.get("/readyz").status_code == 503
        after = REGISTRY.get_sample_value("model_load_failures_total", {"reason": "registry_unavailable"})
        assert after == before + 1
    finally:
        app.extensions["mlapp"].shutdown()


def test_only_promotions_of_the_served_model_trigger_a_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    from local_platform.processes import free_port

    holder = ModelHolder(f"http://127.0.0.1:{free_port()}", "house-price")
    subscriber = PromotionSubscriber("unit-project", holder, name="mlapp-unit")
    data = {"name": "another-model", "version": 4, "family": "x", "dataset_version": 1, "holdout_mae": 1.0}
    subscriber.handle(Event("model.promoted", data))
    subscriber.handle(Event("dataset.version.committed", {"version": 9}))
    assert holder.last_check.outcome == "pending", "neither event concerns the served model"

    ours = Event("model.promoted", {**data, "name": "house-price"})
    subscriber.handle(ours)  # must not raise even though the check fails: redelivery would not help
    assert (holder.last_check.trigger, holder.last_check.outcome) == ("event", "failed")
    assert "unreachable" in holder.last_check.detail


def test_gunicorn_settings_for_mlapp(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    import mlapp.gunicorn_conf as conf

    conf = importlib.reload(conf)
    assert conf.bind == ["0.0.0.0:8081"]
    assert callable(conf.worker_exit) and callable(conf.child_exit)  # subscription clean-up, multiprocess metrics
    assert conf.logconfig_dict["formatters"]["service"]["service"] == "mlapp"
