"""What every payload model shares: input errors as `{field: message}` and a parse step that produces them.

`InputInvalid` is the one exception behind every 422 answer with `fields`: pydantic's errors and the house
record's own rule messages both become a flat mapping from a dotted field path (`record.bedrooms`,
`model.version`) to a sentence a person can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)

# Error types whose pydantic wording is replaced by ours (shorter, and the same as the house record's rules).
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "model_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
}


class InputInvalid(ValueError):
    """Input broke one or more rules; `fields` maps each bad field (a dotted path) to its message.

    Every service answers it the same way (`common.webservice.input_error_answer`): `status` (422 unless a
    subclass says otherwise) with `{"error": "<summary>: <each field and message>", "fields": {...}}`."""

    status = 422
    summary = "invalid input"

    def __init__(self, fields: Mapping[str, str], *, summary: str | None = None):
        self.fields = dict(fields)
        if summary is not None:
            self.summary = summary
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in self.fields.items()))

    def answer(self) -> dict[str, Any]:
        """The JSON body of the refusal; a subclass whose contract names bad input differently overrides it."""
        return {"error": f"{self.summary}: {self}", "fields": self.fields}

    def prefixed(self, prefix: str) -> InputInvalid:
        """The same errors with every field name under `prefix` (`record` -> `record.bedrooms`)."""
        return InputInvalid({_join(prefix, name): message for name, message in self.fields.items()})


class Payload(BaseModel):
    """Base of the payload models: unknown keys are refused (a free-form field is a way to store anything)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _join(prefix: str, name: str) -> str:
    if not prefix:
        return name
    return prefix if name in ("", prefix) else f"{prefix}.{name}"


def field_errors(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    """pydantic's errors as `{dotted field: message}`; a house record's own errors are spread per field."""
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        path = _join(prefix, ".".join(str(part) for part in error["loc"]))
        nested = (error.get("ctx") or {}).get("fields")
        if isinstance(nested, Mapping):
            for name, message in nested.items():
                fields.setdefault(_join(path, str(name)), str(message))
            continue
        message = _MESSAGES.get(error["type"], error["msg"])
        fields.setdefault(path or "body", message[0].lower() + message[1:] if message else message)
    return fields


def parse(model: type[M], raw: Any, prefix: str = "") -> M:
    """`raw` (decoded JSON) as `model`, or `InputInvalid` naming every bad field."""
    if not isinstance(raw, Mapping):
        raise InputInvalid({prefix or "body": "must be a JSON object"})
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InputInvalid(field_errors(exc, prefix)) from None
