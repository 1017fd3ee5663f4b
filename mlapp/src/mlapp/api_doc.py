"""mlapp's OpenAPI document: every route adds its operation here (`@API.operation`), `routes.install` serves it
at `/openapi.json` with a readable page at `/docs`."""

from __future__ import annotations

from common.contracts.answers import ErrorBody
from common.openapi import Answer, ApiDoc

API = ApiDoc(
    title="mlapp",
    version="1",
    description="Serves the champion house-price model from MLflow: single and batch prices, the Open Inference "
    "Protocol (v2), the serving model's facts, probes and metrics.",
)
NO_MODEL = Answer(ErrorBody, "No model is loaded yet")
