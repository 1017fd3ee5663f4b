"""New corrections from dbapp (`GET /corrections?after=<cursor>&limit=`), paged until `has_more` is false.

Each correction becomes a training row: the house record with price = corrected_price, validated by the same
rules as landing rows, then checked for plausibility (`plausibility.py`): implausible ones are quarantined
like invalid ones and counted apart. The cursor is opaque; the job only stores the one it must resume after.
Paging is all or nothing: if any page fails, nothing of this run's corrections is used and the cursor does
not advance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from common.schema import FIELDS_BY_NAME, TEXT_FIELDS, TRAINING_COLUMNS, RecordInvalid, validate_record
from data_versioning.plausibility import PriceBounds
from data_versioning.quarantine import RejectedCorrection

log = logging.getLogger(__name__)


class CorrectionsUnavailable(RuntimeError):
    """dbapp could not be reached or answered outside the contract; the message says what happened."""


@dataclass
class CorrectionsFetch:
    after: str | None  # the cursor this fetch started after
    cursor: str | None  # the cursor the next run starts after
    frame: pd.DataFrame  # accepted rows, TRAINING_COLUMNS
    rejected: list[RejectedCorrection] = field(default_factory=list)  # invalid by the schema
    implausible: list[RejectedCorrection] = field(default_factory=list)  # valid but not believable
    items: int = 0
    pages: int = 0

    @property
    def advanced(self) -> bool:
        return self.cursor != self.after

    @property
    def quarantined(self) -> list[RejectedCorrection]:
        return [*self.rejected, *self.implausible]


def typed_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Validated records as a frame with exactly the dtypes `validate_csv` gives landing rows."""
    columns = {}
    for name in TRAINING_COLUMNS:
        values = [r[name] for r in records]
        kind = FIELDS_BY_NAME[name].kind
        columns[name] = pd.Series(values, dtype="int64" if kind == "int" else "float64" if kind == "float" else str)
    frame = pd.DataFrame(columns, columns=list(TRAINING_COLUMNS))
    for name in TEXT_FIELDS:
        frame[name] = frame[name].astype(str)
    return frame


def _session() -> requests.Session:
    session = requests.Session()
    retry = Retry(total=2, connect=2, read=2, backoff_factor=0.2, status_forcelist=(502, 503, 504))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def _page(session: requests.Session, url: str, after: str | None, limit: int, timeout: float) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if after is not None:
        params["after"] = after
    try:
        response = session.get(url, params=params, timeout=timeout)
    except requests.RequestException as exc:
        raise CorrectionsUnavailable(f"GET {url} failed: {exc}") from exc
    if response.status_code != 200:
        raise CorrectionsUnavailable(f"GET {url} answered {response.status_code}: {response.text[:200]}")
    try:
        body = response.json()
    except ValueError:
        raise CorrectionsUnavailable(f"GET {url} did not answer JSON: {response.text[:200]}") from None
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("items"), list)
        or not isinstance(body.get("has_more"), bool)
    ):
        raise CorrectionsUnavailable(f"GET {url} answered outside the contract (items list, has_more bool)")
    return body


def _row(item: Any) -> dict[str, Any] | RejectedCorrection:
    if not isinstance(item, dict):
        return RejectedCorrection("", "", "item is not a JSON object")
    event_id, cursor = str(item.get("event_id", "")), str(item.get("cursor", ""))
    record = item.get("record")
    if not isinstance(record, dict):
        return RejectedCorrection(event_id, cursor, "record: must be a JSON object with the house fields")
    raw = {**record, "price": item.get("corrected_price")}
    try:
        return validate_record(raw, require_price=True)
    except RecordInvalid as exc:
        return RejectedCorrection(event_id, cursor, str(exc), {k: raw.get(k, "") for k in TRAINING_COLUMNS})


def _implausible(item: dict[str, Any], row: dict[str, Any], bounds: PriceBounds) -> RejectedCorrection | None:
    problem = bounds.problem(row["price"], item.get("predicted_price"))
    if problem is None:
        return None
    return RejectedCorrection(str(item.get("event_id", "")), str(item.get("cursor", "")), problem, row)


def fetch_corrections(
    base_url: str,
    after: str | None,
    *,
    bounds: PriceBounds,
    page_size: int = 500,
    timeout: float = 10.0,
) -> CorrectionsFetch:
    """Every correction after `after`. Raises `CorrectionsUnavailable` (nothing consumed) on any failure."""
    url = f"{base_url.rstrip('/')}/corrections"
    records: list[dict[str, Any]] = []
    rejected: list[RejectedCorrection] = []
    implausible: list[RejectedCorrection] = []
    seen: set[str] = set()
    cursor, items, pages = after, 0, 0
    with _session() as session:
        while True:
            body = _page(session, url, cursor, page_size, timeout)
            pages += 1
            page_items = body["items"]
            items += len(page_items)
            for item in page_items:
                event_id = item.get("event_id") if isinstance(item, dict) else None
                if event_id is not None and event_id in seen:
                    continue  # an item repeated across pages is one correction
                if event_id is not None:
                    seen.add(event_id)
                row = _row(item)
                if isinstance(row, RejectedCorrection):
                    rejected.append(row)
                elif (unbelievable := _implausible(item, row, bounds)) is not None:
                    implausible.append(unbelievable)
                else:
                    records.append(row)
            following = body.get("next_cursor")
            if following is None and page_items and isinstance(page_items[-1], dict):
                following = page_items[-1].get("cursor")
            following = cursor if following is None else str(following)
            if not body["has_more"]:
                cursor = following
                break
            if following == cursor:
                raise CorrectionsUnavailable(f"GET {url}: has_more is true but the cursor did not advance")
            cursor = following
    log.info(
        "corrections read",
        extra={"after": after, "cursor": cursor, "pages": pages, "items": items, "accepted": len(records),
               "rejected": len(rejected), "implausible": len(implausible)},
    )  # fmt: skip
    return CorrectionsFetch(after, cursor, typed_frame(records), rejected, implausible, items, pages)
