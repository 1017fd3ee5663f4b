"""OpenAPI 3.1 documents generated from the payload models, and the per-route body limits they declare.

A service describes each route once, next to its view function (`@api.operation(...)`): the body model, the
query and path parameters, every answer it can give (status -> model) and the largest body it accepts. From
that, `ApiDoc.install` serves `/openapi.json` and a readable `/docs` page, and caps each request's body before
anything parses it (a larger body is a 413, never read whole). Nothing in the document is written by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, Response, current_app, jsonify, request
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from common.contracts.answers import ErrorBody
from common.openapi_page import render_docs

if TYPE_CHECKING:
    from pydantic._internal._dataclasses import PydanticDataclass
    from pydantic.json_schema import JsonSchemaMode, JsonSchemaValue

    # what `models_json_schema` answers: the schema of each (model, mode) asked for
    Schemas = dict[tuple[type[BaseModel] | type[PydanticDataclass], JsonSchemaMode], JsonSchemaValue]

F = TypeVar("F", bound=Callable[..., Any])
REF = "#/components/schemas/{model}"
DEFAULT_BODY_LIMIT = 64 * 1024  # a single record or an API write; routes that take more say so
REQUEST_LINE_TOO_LONG = "The request line is longer than the server reads; refused before the app, as an HTML page"
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "A token whose SHA-256 is listed in API_TOKENS"}
}


@dataclass(frozen=True)
class Answer:
    """One documented answer: `model` None means no JSON body (`content_type` says what it is instead)."""

    model: type[BaseModel] | None
    description: str
    content_type: str = "application/json"


BAD_JSON = Answer(ErrorBody, "The body is not JSON this route accepts (invalid, NaN/Infinity, nested too deeply)")
TOO_LARGE = Answer(ErrorBody, "The body is larger than this route accepts")


def write_answers(
    ok: dict[int, Answer], *, invalid: Answer, unavailable: Answer, bad_request: Answer = BAD_JSON
) -> dict[int, Answer]:
    """The answers of a route that takes a JSON body: `ok`, and the refusals every such route can give."""
    return {**ok, 400: bad_request, 413: TOO_LARGE, 422: invalid, 503: unavailable}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI form: /retrieve/{collection}
    summary: str
    description: str
    body: type[BaseModel] | None
    answers: dict[int, Answer]
    query: type[BaseModel] | None
    path_params: dict[str, dict[str, Any]]
    headers: dict[str, dict[str, Any]]
    body_limit: int | None
    tag: str
    token: bool


@dataclass
class ApiDoc:
    """The routes of one service (or of one part of it, under `prefix`) and the document they make."""

    title: str
    version: str
    description: str
    prefix: str = ""
    operations: list[Operation] = field(default_factory=list)
    _limits: dict[Callable[..., Any], int] = field(default_factory=dict)
    _document: dict[str, Any] | None = None

    def operation(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        answers: dict[int, Answer],
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        path_params: dict[str, dict[str, Any]] | None = None,
        headers: dict[str, dict[str, Any]] | None = None,
        body_limit: int | None = None,
        tag: str = "",
        token: bool = False,
    ) -> Callable[[F], F]:
        """Record a route's contract; the view function is returned unchanged. `headers` maps an optional
        request header's name to `{"schema": ..., "description": ...}`. `token`: the route needs a bearer token
        when the service has `API_TOKENS` (see `common.webservice.install_token_check`)."""

        def record(view: F) -> F:
            limit = body_limit or (DEFAULT_BODY_LIMIT if method.upper() in ("POST", "PUT", "PATCH") else None)
            self.operations.append(
                Operation(
                    method=method.lower(),
                    path=path,
                    summary=summary,
                    description=(view.__doc__ or "").strip(),
                    body=body,
                    answers=answers,
                    query=query,
                    path_params=path_params or {},
                    headers=headers or {},
                    body_limit=limit,
                    tag=tag or self.title,
                    token=token,
                )
            )
            if limit:
                self._limits[view] = limit
            return view

        return record

    def document(self) -> dict[str, Any]:
        if self._document is None:
            self._document = _build(self)
        return self._document

    def install(self, app: Flask, *, docs_path: str = "/docs") -> None:
        """Serve `<prefix>/openapi.json` and `<prefix><docs_path>`, and cap request bodies per route."""

        def openapi_json() -> Response:
            return jsonify(self.document())

        def docs() -> Response:
            return current_app.response_class(render_docs(self.document()), mimetype="text/html")

        app.add_url_rule(f"{self.prefix}/openapi.json", f"openapi_{id(self)}", openapi_json, methods=["GET"])
        app.add_url_rule(f"{self.prefix}{docs_path}", f"openapi_docs_{id(self)}", docs, methods=["GET"])

        @app.before_request
        def _cap_body() -> None:
            view = app.view_functions.get(request.endpoint or "")
            limit = self._limits.get(view) if view is not None else None
            if limit:
                request.max_content_length = limit


def _parameters(op: Operation, schemas: Schemas) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": schema} for name, schema in op.path_params.items()
    ]
    if op.query is not None:
        for name, prop in op.query.model_json_schema(ref_template=REF)["properties"].items():
            description = prop.pop("description", "")
            params.append({"name": name, "in": "query", "required": False, "schema": prop, "description": description})
    for name, header in op.headers.items():
        params.append({"name": name, "in": "header", "required": False, **header})
    return params


def _content(answer: Answer, schemas: Schemas) -> dict[str, Any]:
    if answer.model is None:
        return {answer.content_type: {"schema": {"type": "string"}}}
    return {answer.content_type: {"schema": schemas[(answer.model, "serialization")]}}


def _add_request_line_refusal(responses: dict[str, Any]) -> None:
    """A route whose path or query a client fills can be sent a request line longer than gunicorn reads
    (`limit_request_line`, 4,094 bytes by default): gunicorn answers 400 with an HTML page before the app sees the
    request, so the document lists that answer beside any JSON 400 the route gives."""
    refusal = responses.setdefault("400", {"description": REQUEST_LINE_TOO_LONG, "content": {}})
    if refusal["description"] != REQUEST_LINE_TOO_LONG:
        refusal["description"] += f"; or: {REQUEST_LINE_TOO_LONG[0].lower()}{REQUEST_LINE_TOO_LONG[1:]}"
    refusal["content"]["text/html"] = {"schema": {"type": "string"}}


def _build(api: ApiDoc) -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], Any]] = []
    for op in api.operations:
        if op.body is not None:
            wanted.append((op.body, "validation"))
        wanted.extend((answer.model, "serialization") for answer in op.answers.values() if answer.model)
    secured = any(op.token for op in api.operations)
    if secured:
        wanted.append((ErrorBody, "serialization"))
    schemas, definitions = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in api.operations:
        entry: dict[str, Any] = {
            "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
            "summary": op.summary,
            "tags": [op.tag],
            "responses": {
                str(status): {"description": answer.description, "content": _content(answer, schemas)}
                for status, answer in sorted(op.answers.items())
            },
        }
        if op.token:
            entry["security"] = [{"bearer": []}, {}]  # {}: open where the service has no API_TOKENS
            entry["responses"]["401"] = {
                "description": "API_TOKENS is set and the request has no bearer token it accepts",
                "content": _content(Answer(ErrorBody, ""), schemas),
            }
        if op.description:
            entry["description"] = op.description
        parameters = _parameters(op, schemas)
        if parameters:
            entry["parameters"] = parameters
        if op.path_params or op.query is not None:
            _add_request_line_refusal(entry["responses"])
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schemas[(op.body, "validation")]}},
                "description": f"At most {op.body_limit:,} bytes." if op.body_limit else "",
            }
        paths.setdefault(f"{api.prefix}{op.path}", {})[op.method] = entry
    components: dict[str, Any] = {"schemas": definitions.get("$defs", {})}
    if secured:
        components["securitySchemes"] = SECURITY_SCHEMES
    return {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": api.version, "description": api.description},
        "paths": paths,
        "components": components,
    }
