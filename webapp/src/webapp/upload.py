"""CSV uploads into the landing bucket: validated first, and only the rows that passed are stored.

A file that cannot be read as house records (not UTF-8, missing columns, empty), or that has no valid row, stores
nothing. Otherwise the accepted rows are written as one CSV object `uploads/<UTC timestamp>-<name>.csv`, where the
data job picks it up like any other landing file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from werkzeug.utils import secure_filename

from common.blobstore import BlobStore

if TYPE_CHECKING:
    from common.csv_validation import Rejected

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "uploads/"
MAX_NAME_LENGTH = 80


@dataclass
class UploadReport:
    filename: str
    accepted: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    file_error: str | None = None  # why the file as a whole was refused
    stored_name: str | None = None  # object name in the landing bucket
    stored_url: str | None = None

    @property
    def stored(self) -> bool:
        return self.stored_name is not None


def object_name(filename: str, now: datetime | None = None) -> str:
    """`uploads/20250102T130405.123456Z-houses_march.csv` from the user's file name (made safe)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    base = secure_filename(filename or "")
    if base.lower().endswith(".csv"):
        base = base[:-4]
    base = base.strip("._-")[:MAX_NAME_LENGTH] or "upload"
    return f"{UPLOAD_PREFIX}{moment.strftime('%Y%m%dT%H%M%S.%fZ')}-{base}.csv"


def validate_and_store(data: bytes, filename: str, store: BlobStore, now: datetime | None = None) -> UploadReport:
    """Validate the whole file, then store the accepted rows (or nothing). Store errors propagate."""
    # Imported here: it brings pandas, which only uploads need (the workers start about 2 s faster without it).
    from common.csv_validation import FileInvalid, validate_csv

    shown_name = filename or "upload.csv"
    report = UploadReport(filename=shown_name)
    try:
        checked = validate_csv(data, shown_name, require_price=True)
    except FileInvalid as exc:
        report.file_error = str(exc)
        log.info("upload refused", extra={"upload": shown_name, "reason": report.file_error})
        return report
    report.accepted = len(checked.accepted)
    report.rejected = checked.rejected
    if not report.accepted:
        log.info("upload has no valid row", extra={"upload": shown_name, "rejected": len(report.rejected)})
        return report
    name = object_name(filename, now)
    store.write(name, checked.accepted.to_csv(index=False).encode(), content_type="text/csv")
    report.stored_name = name
    report.stored_url = f"{store.url.rstrip('/')}/{name}"
    log.info(
        "upload stored",
        extra={
            "upload": shown_name,
            "object": report.stored_url,
            "accepted": report.accepted,
            "rejected": len(report.rejected),
        },
    )
    return report
