"""`/upload`: a CSV of house sales into the landing bucket, answered with a per-row validation report."""

from __future__ import annotations

import logging

from flask import Blueprint, render_template, request

from common.schema import TRAINING_COLUMNS
from webapp import context, messages
from webapp.limits import Busy
from webapp.metrics import ERROR_COUNT
from webapp.upload import UploadReport, validate_and_store

log = logging.getLogger(__name__)
bp = Blueprint("uploads", __name__)

COLUMNS = ("date", *TRAINING_COLUMNS)


def upload_page(status: int = 200, *, report: UploadReport | None = None, error: str | None = None) -> tuple[str, int]:
    return render_template("upload.html", report=report, error=error, columns=COLUMNS), status


@bp.get("/upload")
def upload_form() -> tuple[str, int]:
    return upload_page()


@bp.post("/upload")
def upload() -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        return upload_page(400, error="Choose a CSV file to upload.")
    ctx = context.current()
    try:
        with ctx.upload_slots.slot():
            # `sent.stream` is the upload as Werkzeug spooled it (a temporary file past 500 KB): read, never whole.
            report = validate_and_store(sent.stream, sent.filename, ctx.landing)
    except Busy:
        page, _ = upload_page(503, error=messages.UPLOADS_BUSY)
        return page, 503, {"Retry-After": "5"}
    except Exception:
        ERROR_COUNT.inc()
        log.exception("storing an upload failed", extra={"upload": sent.filename})
        return upload_page(503, error=messages.LANDING_UNAVAILABLE)
    return upload_page(200 if report.stored else 422, report=report)


def too_large() -> tuple[str, int]:
    """The answer to an upload over MAX_UPLOAD_MB (called by the 413 error handler)."""
    limit = context.current().config.max_upload_mb
    message = f"The file is larger than the {limit:g} MB upload limit. Split it into smaller files and upload each."
    return upload_page(413, error=message)
