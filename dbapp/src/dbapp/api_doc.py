"""dbapp's OpenAPI document: every route adds its operation here (`@API.operation`); `app.create_app` serves it
at `/openapi.json` with a readable page at `/docs`."""

from __future__ import annotations

from common.contracts import store as s
from common.openapi import Answer, ApiDoc

API = ApiDoc(
    title="dbapp",
    version="1",
    description="Stores predictions and corrections (from the bus, or `POST /store` in our shape or the seed "
    "system's) and lists them: `/retrieve/<collection>` for people's history, `/corrections` for the data job.",
)
COLLECTION = {
    "type": "string",
    "maxLength": s.MAX_TABLE_LENGTH,
    "examples": ["collection_1", "collection_2"],
    "description": "COLLECTION_1 (predictions) or COLLECTION_2 (corrections)",
}
BAD_PAGE = Answer(s.ErrorAnswer, "`limit` or `after` is unusable: `fields` names it")
DOWN = Answer(s.ErrorAnswer, "The database is unreachable")
READINESS = {200: Answer(s.ReadinessAnswer, "The database answers"), 503: Answer(s.ReadinessAnswer, "It does not")}
STORE_ANSWERS = {
    200: Answer(s.StoreAnswer, "Already stored (same event_id and data, or a seed correction of the same house)"),
    201: Answer(s.StoreAnswer, "Stored"),
    400: Answer(s.ErrorAnswer, "No usable table or data, or not a JSON object"),
    409: Answer(s.ConflictAnswer, "The event_id is already stored with different data"),
    413: Answer(s.ErrorAnswer, "The body or the document is over its size limit"),
    422: Answer(s.ErrorAnswer, "Invalid fields: `fields` names each one"),
    503: DOWN,
}
