"""Answers every service gives in the same shape: errors and probe results."""

from __future__ import annotations

from pydantic import Field

from common.contracts.base import Payload


class ErrorBody(Payload):
    """Any refusal: `error` says what is wrong; `fields` names each bad input field (422); `request_id` quotes
    the request in the service's logs."""

    error: str
    fields: dict[str, str] | None = Field(default=None, description="Bad field (dotted path) -> message")
    request_id: str | None = None


class Alive(Payload):
    """`/healthz`: the process answers."""

    status: str = Field(description='"ok"')
