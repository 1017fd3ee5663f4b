"""HTTP clients for mlapp (prices, model info, the registry's versions) and dbapp (history, live quality), over
one pooled `requests.Session`.

Every call has a connect and a read timeout and forwards the current request id. Anything other than a usable
answer becomes `ServiceUnavailable` with a reason for the logs; the pages show a plain message instead. A price
that is not a positive finite number is never shown: it is treated as the service being unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from pydantic import BaseModel
from requests.adapters import HTTPAdapter

from common.contracts.base import InputInvalid, parse
from common.contracts.predict import Prediction as PredictionAnswer
from common.contracts.quality import LiveQuality, LiveQualityAnswer, RegistryVersionsAnswer
from common.webservice import REQUEST_ID_HEADER, request_id

M = TypeVar("M", bound=BaseModel)


class ServiceUnavailable(RuntimeError):
    """A downstream service did not answer usefully; `reason` is for logs, `detail` the service's own words."""

    def __init__(self, service: str, reason: str, detail: str | None = None, status: int | None = None):
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason
        self.detail = detail
        self.status = status  # the HTTP status it answered with; None when it could not be reached


class InputRejected(InputInvalid):
    """The service refused the input (422); `fields` maps each bad field to its message (the service's whole
    `error` under "input" when it named none), so webapp's API passes the refusal on as its own 422."""


def make_session(pool_size: int = 16) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _error_text(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return str(error)[:300] if error else None


def _fields(body: dict[str, Any]) -> dict[str, str]:
    fields = body.get("fields")
    if isinstance(fields, dict) and fields:
        return {str(k): str(v) for k, v in fields.items()}
    return {"input": str(body.get("error") or "refused")}


class ServiceClient:
    def __init__(self, name: str, base_url: str, session: requests.Session, timeout: tuple[float, float]):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = timeout

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        rid = request_id()
        if rid:
            headers[REQUEST_ID_HEADER] = rid
        try:
            return self.session.request(
                method, f"{self.base_url}{path}", headers=headers, timeout=kwargs.pop("timeout", self.timeout), **kwargs
            )
        except requests.Timeout as exc:
            raise ServiceUnavailable(self.name, f"no answer within the timeout ({exc.__class__.__name__})") from exc
        except requests.RequestException as exc:
            reason = f"cannot connect to {self.base_url} ({exc.__class__.__name__})"
            raise ServiceUnavailable(self.name, reason) from exc

    def json_of(self, response: requests.Response, path: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ServiceUnavailable(self.name, f"{path} answered {response.status_code} without JSON") from None

    def answer(self, path: str, model: type[M]) -> M:
        """`GET path` answered 200 with a body of `model`; anything else is `ServiceUnavailable`."""
        response = self.request("GET", path)
        if response.status_code != 200:
            raise ServiceUnavailable(
                self.name, f"{path} answered {response.status_code}", _error_text(response), response.status_code
            )
        try:
            return parse(model, self.json_of(response, path))
        except InputInvalid as exc:
            raise ServiceUnavailable(self.name, f"{path} answered outside its contract: {str(exc)[:200]}") from None

    def probe(self, path: str = "/readyz") -> dict[str, Any]:
        """Reachability for /readyz: never raises."""
        try:
            response = self.request("GET", path, timeout=(self.timeout[0], 2.0))
        except ServiceUnavailable as exc:
            return {"url": self.base_url, "reachable": False, "reason": exc.reason}
        return {"url": self.base_url, "reachable": True, "ready": response.status_code == 200}


@dataclass(frozen=True)
class Prediction:
    result: float
    model: dict[str, Any]


class MlappClient(ServiceClient):
    def __init__(self, base_url: str, session: requests.Session, timeout: tuple[float, float]):
        super().__init__("mlapp", base_url, session, timeout)

    def predict(self, record: dict[str, Any]) -> Prediction:
        response = self.request("POST", "/predict", json=record)
        body = self.json_of(response, "/predict")
        if response.status_code == 422 and isinstance(body, dict):
            raise InputRejected(_fields(body), summary="invalid house record")
        if response.status_code != 200:
            raise ServiceUnavailable(
                self.name, f"/predict answered {response.status_code}", _error_text(response), response.status_code
            )
        try:
            answer = parse(PredictionAnswer, body)
        except InputInvalid as exc:  # never show a price that is not a positive number from a known model
            raise ServiceUnavailable(self.name, f"/predict answered outside its contract: {str(exc)[:200]}") from None
        return Prediction(result=answer.result, model=answer.model.model_dump())

    def model_info(self) -> dict[str, Any]:
        response = self.request("GET", "/model-info")
        if response.status_code != 200:
            raise ServiceUnavailable(
                self.name, f"/model-info answered {response.status_code}", _error_text(response), response.status_code
            )
        body = self.json_of(response, "/model-info")
        if not isinstance(body, dict):
            raise ServiceUnavailable(self.name, "/model-info answered something other than a JSON object")
        return body

    def model_versions(self) -> RegistryVersionsAnswer:
        """Every version of the registered model, as mlapp reads the registry."""
        return self.answer("/model-versions", RegistryVersionsAnswer)


@dataclass(frozen=True)
class Page:
    """One page of dbapp's `/retrieve`: flat items (the house fields, `price`, `model`, ...; see
    `common.contracts.store.RetrieveItem`), newest first."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    has_more: bool


class DbappClient(ServiceClient):
    def __init__(self, base_url: str, session: requests.Session, timeout: tuple[float, float]):
        super().__init__("dbapp", base_url, session, timeout)

    def newest(self, collection: str, limit: int, after: str | None = None) -> Page:
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        path = f"/retrieve/{collection}"
        response = self.request("GET", path, params=params)
        body = self.json_of(response, path)
        if response.status_code == 422 and isinstance(body, dict):
            raise InputRejected(_fields(body), summary="invalid page")
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ServiceUnavailable(
                self.name, f"{path} answered {response.status_code}", _error_text(response), response.status_code
            )
        items = [item for item in body["data"] if isinstance(item, dict)]
        cursor = body.get("next_cursor")
        return Page(items=items, next_cursor=str(cursor) if cursor else None, has_more=bool(body.get("has_more")))

    def live_quality(self) -> list[LiveQuality]:
        """The live MAE of every (family, version) with corrections."""
        return self.answer("/quality", LiveQualityAnswer).models
