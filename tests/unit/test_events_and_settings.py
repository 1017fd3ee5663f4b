"""Event envelopes and configuration: malformed input is refused with a message that names the problem."""

import json
from pathlib import Path

import pytest

from common.events import Event, EventInvalid
from common.settings import ConfigError, Settings


def test_event_round_trip_keeps_id_and_topic():
    event = Event(type="correction.submitted", data={"corrected_price": 1.0})
    again = Event.from_json(event.to_json())
    assert again == event
    assert again.topic == "corrections"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "the envelope must be a JSON object"),
        (json.dumps({"type": "prediction.made"}).encode(), "event_id: is required; schema_version: is required"),
        (
            json.dumps(
                {"event_id": "x", "type": "prediction.made", "schema_version": 1, "occurred_at": "t", "data": {}}
            ).encode(),
            "event_id: input should be a valid UUID",
        ),
        (
            json.dumps(
                {
                    "event_id": "9b2c1a52-7b7e-4c51-9b36-1f1c3a0e2f10",
                    "type": "price.guessed",
                    "schema_version": 1,
                    "occurred_at": "t",
                    "data": {},
                }
            ).encode(),
            "type: input should be 'prediction.made', 'correction.submitted'",
        ),
    ],
)
def test_malformed_envelopes(payload, message):
    with pytest.raises(EventInvalid, match=message.replace("(", r"\(").replace(")", r"\)")):
        Event.from_json(payload)


def test_local_defaults_need_no_setup(tmp_path: Path):
    settings = Settings.from_env("t", {"PLATFORM_DATA_DIR": str(tmp_path), "PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"})
    assert settings.landing_bucket == (tmp_path / "buckets" / "landing").as_uri()
    assert settings.gcp_project == "local-project"
    assert (settings.batch_size, settings.train_test_split) == (1000, 0.8)


def test_missing_project_without_emulator_names_the_variable():
    with pytest.raises(ConfigError, match="GCP_PROJECT is not set"):
        Settings.from_env("t", {})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BATCH_SIZE": "many"}, "BATCH_SIZE must be a whole number, got 'many'"),
        ({"BATCH_SIZE": "0"}, "BATCH_SIZE must be at least 1, got 0"),
        ({"TRAIN_TEST_SPLIT": "1.5"}, r"TRAIN_TEST_SPLIT must be between 0 and 1 \(exclusive\), got 1.5"),
    ],
)
def test_bad_values_fail_naming_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env("t", {"GCP_PROJECT": "p", **env})
