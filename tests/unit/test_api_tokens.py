"""Write APIs behind bearer tokens when `API_TOKENS` is set: hashed entries, 401 before the body is read, the
client's name as the scope of its idempotency keys; the pages and the read routes stay open."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from common.api_tokens import ApiTokens, main, token_digest
from common.events import event_id_for_key
from common.settings import ConfigError, Settings
from dbapp.app import create_app as create_dbapp
from tests.unit import webapp_support as ws
from tests.unit.test_webapp_idempotency import RecordingBus, correction
from webapp.config import WebappConfig

TOKEN = "s3cret-token-for-ci"
API_TOKENS = f"ci:{token_digest(TOKEN)},ops:{token_digest('another')}"


def test_entries_are_names_with_sha256_digests() -> None:
    tokens = ApiTokens.from_env({"API_TOKENS": f" {API_TOKENS} ,"})
    assert tokens.required and [name for name, _ in tokens.digests] == ["ci", "ops"]
    assert tokens.client(f"Bearer {TOKEN}") == "ci" and tokens.client("bearer another") == "ops"
    for header in (None, "", "Bearer", "Bearer wrong", f"Basic {TOKEN}", TOKEN):
        assert tokens.client(header) is None, header
    assert not ApiTokens.from_env({}).required and not ApiTokens.from_env({"API_TOKENS": " "}).required


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (f"ci={token_digest(TOKEN)}", "entry 1 is not `name:sha256hex`"),
        (f"ci:{TOKEN}", "entry 1"),
        (f"ci:{token_digest(TOKEN)},Bad Name:{token_digest('x')}", "entry 2"),
        (f"ci:{token_digest(TOKEN)},ci:{token_digest('x')}", "'ci' appears twice"),
    ],
)
def test_a_bad_entry_names_the_variable_and_the_entry(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match="API_TOKENS") as raised:
        ApiTokens.from_env({"API_TOKENS": value})
    assert message in str(raised.value)


def test_the_command_prints_a_token_and_the_entry_that_accepts_it() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["ci-runner"]) == 0
    lines = out.getvalue().splitlines()
    token = lines[0].rsplit(" ", 1)[-1]
    entry = lines[1].rsplit(" ", 1)[-1]
    assert token not in entry and ApiTokens.from_env({"API_TOKENS": entry}).client(f"Bearer {token}") == "ci-runner"
    assert main(["Not A Name"]) == 2


def test_webapp_api_writes_need_a_listed_token(tmp_path: Path) -> None:
    bus = RecordingBus()
    app = ws.make_app(tmp_path, bus=bus, api_tokens=ApiTokens.from_env({"API_TOKENS": API_TOKENS}))
    client = app.test_client()
    refused = client.post("/api/corrections", json=correction(), headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401 and "API_TOKENS" in refused.get_json()["error"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post("/api/predict", json=ws.record()).status_code == 401
    assert bus.events == []
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "k-1"}
    accepted = client.post("/api/corrections", json=correction(), headers=headers)
    assert accepted.status_code == 202
    assert accepted.get_json()["event_id"] == event_id_for_key("correction.submitted", "k-1", scope="ci")
    assert client.get("/predict_page").status_code == 200 and client.get("/api/openapi.json").status_code == 200


def test_dbapp_store_needs_a_token_and_reads_stay_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKENS", API_TOKENS)
    settings = Settings.from_env("dbapp", {"GCP_PROJECT": "unit", "DBAPP_SQLITE_PATH": str(tmp_path / "db.sqlite3")})
    client = create_dbapp(settings).test_client()
    body = {"table": "collection_2", "data": correction()}
    assert client.post("/store", json=body).status_code == 401
    assert client.post("/store", json=body, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 201
    assert client.get("/retrieve/collection_2").get_json()["count"] == 1
    store_doc = client.get("/openapi.json").get_json()["paths"]["/store"]["post"]
    assert "401" in store_doc["responses"] and {"bearer": []} in store_doc["security"]


def test_a_bad_api_tokens_value_stops_webapp_at_start(tmp_path: Path) -> None:
    settings = Settings.from_env("webapp", {"GCP_PROJECT": "unit", "PLATFORM_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="API_TOKENS"):
        WebappConfig.from_env({"SECRET_KEY": ws.SECRET, "API_TOKENS": "nonsense"}, settings=settings)
