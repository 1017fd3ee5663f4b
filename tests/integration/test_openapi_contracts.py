"""Each service against its own published OpenAPI document, driven by schemathesis (a client no one here wrote):
requests generated from `/openapi.json` must never get a 5xx, and every answer's status, content type and body
must be the ones the document lists for that route."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.contract_services import Services

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}
DOCUMENTS = {"mlapp": "/openapi.json", "dbapp": "/openapi.json", "webapp": "/api/openapi.json"}


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda mode: mode.value)
@pytest.mark.parametrize("service", list(DOCUMENTS))
def test_each_service_keeps_its_published_contract(services: Services, service: str, mode: GenerationMode) -> None:
    """Every operation of the service's document, with requests schemathesis generates from it (valid ones, then
    ones that break the document's rules)."""
    base = getattr(services, service)
    schema = schemathesis.openapi.from_url(f"{base}{DOCUMENTS[service]}")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"{service} documents no operation"
    fuzzed: list[str] = []
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()) and not operation.body:
            continue  # nothing in the request can break a rule (a probe without parameters)

        @settings(max_examples=EXAMPLES[mode], deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(operation.as_strategy(mode))
        def keeps_contract(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base, checks=CHECKS)

        try:
            keeps_contract()
        except Unsatisfiable:
            # Negative mode: no request that breaks the document's rules can be built for this operation (its
            # only inputs are, for example, free-form strings in the path).
            assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request could be generated"
            continue
        fuzzed.append(operation.label)
    assert fuzzed, f"no operation of {service} could be fuzzed in {mode.value} mode"


@pytest.mark.parametrize(("service", "prefix"), [("mlapp", ""), ("dbapp", ""), ("webapp", "/api")])
def test_each_service_publishes_a_generated_document_and_a_docs_page(
    services: Services, service: str, prefix: str
) -> None:
    base = f"{getattr(services, service)}{prefix}"
    document = requests.get(f"{base}/openapi.json", timeout=10).json()
    assert document["openapi"] == "3.1.0" and document["paths"]
    assert all(route.startswith(f"{prefix}/") for route in document["paths"])
    page = requests.get(f"{base}/docs", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for route in document["paths"]:
        assert route in page.text  # every documented route is on the readable page


@pytest.mark.parametrize(
    ("service", "method", "path", "parameters"),
    [
        ("mlapp", "GET", "/v2/models/{name}", {"path_parameters": {"name": "é" * 1000}}),
        ("dbapp", "GET", "/retrieve/{collection}", {"path_parameters": {"collection": "x" * 5000}}),
    ],
)
def test_a_request_line_longer_than_the_server_reads_gets_a_documented_answer(
    services: Services, service: str, method: str, path: str, parameters: dict[str, dict[str, str]]
) -> None:
    """gunicorn refuses a request line over its limit before the app sees it (400, an HTML page): schemathesis
    generates such paths now and then, so the document lists that answer and this case sends one every time."""
    base = getattr(services, service)
    schema = schemathesis.openapi.from_url(f"{base}{DOCUMENTS[service]}")
    case = schema[path][method].Case(**parameters)
    response = case.call_and_validate(base_url=base, checks=CHECKS)
    assert response.status_code == 400 and response.headers["content-type"][0].startswith("text/html")
