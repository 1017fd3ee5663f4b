"""Each service against its own published OpenAPI document, driven by schemathesis (a client no one here wrote):
requests generated from `/openapi.json` must never get a 5xx, and every answer's status, content type and body
must be the ones the document lists for that route."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.contract_services import Services

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="session")
def mlapp_api(services: Services) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{services.mlapp}/openapi.json")


@pytest.fixture(scope="session")
def dbapp_api(services: Services) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{services.dbapp}/openapi.json")


@pytest.fixture(scope="session")
def webapp_api(services: Services) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{services.webapp}/api/openapi.json")


mlapp = schemathesis.pytest.from_fixture("mlapp_api")
dbapp = schemathesis.pytest.from_fixture("dbapp_api")
webapp = schemathesis.pytest.from_fixture("webapp_api")


@mlapp.parametrize()
@FUZZ
def test_mlapp_keeps_its_published_contract(case: schemathesis.Case, services: Services) -> None:
    case.call_and_validate(base_url=services.mlapp, checks=CHECKS)


@dbapp.parametrize()
@FUZZ
def test_dbapp_keeps_its_published_contract(case: schemathesis.Case, services: Services) -> None:
    case.call_and_validate(base_url=services.dbapp, checks=CHECKS)


@webapp.parametrize()
@FUZZ
def test_webapp_api_keeps_its_published_contract(case: schemathesis.Case, services: Services) -> None:
    case.call_and_validate(base_url=services.webapp, checks=CHECKS)


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
