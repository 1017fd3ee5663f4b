"""ACCESS_LOG_SAMPLE: fast successful requests are sampled out of the access log; refusals, errors and slow
requests never are."""

from __future__ import annotations

import logging
import time

import pytest
from flask import Flask, Response, jsonify

from common import webservice
from common.settings import ConfigError, Settings


def app_with(sample: float) -> Flask:
    app = Flask("sampled")
    webservice.install_request_log(app, "sampled", sample)

    @app.get("/fast")
    def fast() -> Response:
        return jsonify(ok=True)

    @app.get("/refused")
    def refused() -> tuple[Response, int]:
        return jsonify(error="no"), 422

    @app.get("/slow")
    def slow() -> Response:
        time.sleep(webservice.SLOW_REQUEST_MS / 1000 + 0.01)
        return jsonify(ok=True)

    return app


def access_lines(caplog: pytest.LogCaptureFixture, path: str) -> int:
    return sum(1 for r in caplog.records if r.name == "sampled.access" and getattr(r, "path", None) == path)


def test_with_no_sampling_every_request_gets_a_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    client = app_with(1.0).test_client()
    for _ in range(20):
        client.get("/fast")
    assert access_lines(caplog, "/fast") == 20


def test_sampling_drops_only_fast_successes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    client = app_with(0.0).test_client()
    for _ in range(20):
        assert client.get("/fast").status_code == 200
        assert client.get("/refused").status_code == 422
    client.get("/slow")
    assert access_lines(caplog, "/fast") == 0
    assert access_lines(caplog, "/refused") == 20 and access_lines(caplog, "/slow") == 1
    assert client.get("/fast").headers[webservice.REQUEST_ID_HEADER]  # the request id is still answered


def test_a_share_between_keeps_about_that_share(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    client = app_with(0.25).test_client()
    for _ in range(400):
        client.get("/fast")
    assert 50 <= access_lines(caplog, "/fast") <= 150


def test_the_share_is_read_once_and_must_be_between_0_and_1() -> None:
    assert Settings.from_env("t", {"GCP_PROJECT": "p"}).access_log_sample == 1.0
    assert Settings.from_env("t", {"GCP_PROJECT": "p", "ACCESS_LOG_SAMPLE": "0.05"}).access_log_sample == 0.05
    with pytest.raises(ConfigError, match="ACCESS_LOG_SAMPLE must be between 0 and 1, got 2"):
        Settings.from_env("t", {"GCP_PROJECT": "p", "ACCESS_LOG_SAMPLE": "2"})


def test_mlapp_logs_one_routine_prediction_in_20_unless_told_otherwise() -> None:
    from mlapp.config import MlappConfig

    assert MlappConfig.from_env({}).settings.access_log_sample == 0.05
    assert MlappConfig.from_env({"ACCESS_LOG_SAMPLE": "1"}).settings.access_log_sample == 1.0
    assert Settings.from_env("dbapp", {"GCP_PROJECT": "p"}).access_log_sample == 1.0  # the others: every request


def test_the_request_id_is_the_callers_or_a_new_one_and_tags_the_requests_log_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    app = app_with(1.0)

    @app.get("/says")
    def says() -> Response:
        logging.getLogger("sampled.route").info("inside", extra={"seen": webservice.request_id()})
        return jsonify(ok=True)

    client = app.test_client()
    assert client.get("/says", headers={"X-Request-ID": "trace-1"}).headers[webservice.REQUEST_ID_HEADER] == "trace-1"
    generated = client.get("/says", headers={"X-Request-ID": "bad id with spaces"}).headers[
        webservice.REQUEST_ID_HEADER
    ]
    assert len(generated) == 32 and generated != "bad id with spaces"
    seen = [getattr(r, "seen", None) for r in caplog.records if r.name == "sampled.route"]
    assert seen == ["trace-1", generated]
    access = [r for r in caplog.records if r.name == "sampled.access"]
    assert [(r.request_id, r.path, r.status) for r in access] == [("trace-1", "/says", 200), (generated, "/says", 200)]


def test_the_access_line_names_a_non_ascii_path_as_sent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert app_with(0.0).test_client().get("/caf%C3%A9").status_code == 404
    assert [(r.path, r.status) for r in caplog.records if r.name == "sampled.access"] == [("/café", 404)]
