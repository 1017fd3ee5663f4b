"""Query parameters of the paginated routes and the page objects they answer with.

A page asks the store for `limit + 1` documents: the extra one only tells whether another page exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from common.contracts.base import InputInvalid
from common.contracts.house import ModelRef
from common.contracts.store import MAX_PAGE_SIZE
from common.schema import FIELD_NAMES
from dbapp.documents import Kind
from dbapp.storage.base import StoredDocument, decode_cursor, encode_cursor, iso

DEFAULT_LIMIT = 50
MAX_LIMIT = MAX_PAGE_SIZE
MODEL_KEYS = frozenset(ModelRef.model_fields)


class ParameterInvalid(InputInvalid):
    """One or more query parameters are unusable; `fields` maps each to its message (a 422, like every input
    error: `common.contracts.base.InputInvalid`)."""


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: int | None  # an empty `after=` means "from the start", like no `after`

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> PageRequest:
        errors: dict[str, str] = {}
        limit = DEFAULT_LIMIT
        raw_limit = (args.get("limit") or "").strip()
        if raw_limit:
            if raw_limit.isascii() and raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_LIMIT:
                limit = int(raw_limit)
            else:
                errors["limit"] = f"must be a whole number from 1 to {MAX_LIMIT} (got {raw_limit[:40]!r})"
        after = None
        raw_after = (args.get("after") or "").strip()
        if raw_after:
            try:
                after = decode_cursor(raw_after)
            except ValueError as exc:
                errors["after"] = str(exc)
        if errors:
            raise ParameterInvalid(errors)
        return cls(limit=limit, after=after)


def newest_first_page(collection: str, kind: Kind, found: list[StoredDocument], limit: int) -> dict[str, Any]:
    """`/retrieve`: the seed's keys (`success`, `collection`, `count`, `data` with flat items), then the cursor:
    `next_cursor` is the last item's cursor when another page exists, else null."""
    items = [flat_item(kind, doc) for doc in found[:limit]]
    has_more = len(found) > limit
    return {
        "success": True,
        "collection": collection,
        "count": len(items),
        "data": items,
        "next_cursor": items[-1]["cursor"] if has_more else None,
        "has_more": has_more,
    }


def flat_item(kind: Kind, doc: StoredDocument) -> dict[str, Any]:
    """A document as the seed's history page reads it: the house fields and `price` at the top level."""
    data = doc.data
    raw = data.get("record")
    record: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    item = {name: record.get(name) for name in FIELD_NAMES}
    item["price"] = data.get("result" if kind is Kind.PREDICTION else "corrected_price")
    item.update(
        event_id=doc.event_id, created_at=iso(doc.created_at), cursor=doc.cursor, model=model_ref(data.get("model"))
    )
    if kind is Kind.CORRECTION:
        item.update(predicted_price=data.get("predicted_price"), prediction_event_id=data.get("prediction_event_id"))
    return item


def model_ref(raw: Any) -> dict[str, Any] | None:
    """A stored model reference in `ModelRef`'s form; None when unknown or not one (documents stored before the
    model was bounded may hold any object, which must not reach a page)."""
    if not isinstance(raw, Mapping) or not raw.keys() <= MODEL_KEYS:
        return None
    try:
        return ModelRef.model_validate(raw).model_dump()
    except ValidationError:
        return None


def oldest_first_page(
    found: list[StoredDocument], request: PageRequest, item: Callable[[StoredDocument], dict[str, Any]]
) -> dict[str, Any]:
    """`/corrections`: `next_cursor` is always where the next call starts (the given `after` when empty)."""
    items = found[: request.limit]
    return {
        "items": [item(doc) for doc in items],
        "next_cursor": items[-1].cursor if items else (None if request.after is None else encode_cursor(request.after)),
        "has_more": len(found) > request.limit,
    }


def correction_item(doc: StoredDocument) -> dict[str, Any]:
    return {
        "cursor": doc.cursor,
        "event_id": doc.event_id,
        "record": doc.data["record"],
        "corrected_price": doc.data["corrected_price"],
        "predicted_price": doc.data.get("predicted_price"),
        "created_at": iso(doc.created_at),
    }
