"""CSV uploads into the landing bucket: validated first, and only the rows that passed are stored.

A file that cannot be read as house records (not UTF-8, missing columns, empty), or that has no valid row, stores
nothing. Otherwise the accepted rows are written as one CSV object `uploads/<UTC timestamp>-<name>.csv`, where the
data job picks it up like any other landing file.

Memory is bounded by PIECE_BYTES, not by the file: the upload is read as a stream and validated a piece at a time
(`common.csv_stream`, the data job's splitter, so the report is that of one whole-file validation), each piece's
accepted rows go to a temporary file that is then streamed into the bucket, and the report keeps the first
MAX_REJECTED_KEPT rejected rows and only counts the rest. `validate_csv` holds about 20 bytes per byte of its
input, so an upload of any size costs about 30 MB, where a whole 10 MB file cost 260 MB.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

from werkzeug.utils import secure_filename

from common.blobstore import BlobStore

if TYPE_CHECKING:
    from common.csv_validation import Rejected

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "uploads/"
MAX_NAME_LENGTH = 80
PIECE_BYTES = 1024 * 1024  # validated at a time; also the longest record read (a longer one refuses the file)
MAX_REJECTED_KEPT = 500  # rejected rows kept for the report (the page lists them); the rest are only counted


@dataclass
class UploadReport:
    filename: str
    accepted: int = 0
    rejected: list[Rejected] = field(default_factory=list)  # the first MAX_REJECTED_KEPT, in file order
    rejected_count: int = 0  # all rejected rows
    file_error: str | None = None  # why the file as a whole was refused
    stored_name: str | None = None  # object name in the landing bucket
    stored_url: str | None = None

    @property
    def stored(self) -> bool:
        return self.stored_name is not None

    @property
    def rejected_not_kept(self) -> int:
        return self.rejected_count - len(self.rejected)

    def add_rejected(self, rows: list[Rejected]) -> None:
        """Count `rows`; keep line and reason of the first MAX_REJECTED_KEPT (the page shows no values, and a
        row's values can be as long as the piece)."""
        room = max(0, MAX_REJECTED_KEPT - len(self.rejected))
        self.rejected.extend(replace(row, values={}) for row in rows[:room])
        self.rejected_count += len(rows)


def object_name(filename: str, now: datetime | None = None) -> str:
    """`uploads/20250102T130405.123456Z-houses_march.csv` from the user's file name (made safe)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    base = secure_filename(filename or "")
    if base.lower().endswith(".csv"):
        base = base[:-4]
    base = base.strip("._-")[:MAX_NAME_LENGTH] or "upload"
    return f"{UPLOAD_PREFIX}{moment.strftime('%Y%m%dT%H%M%S.%fZ')}-{base}.csv"


def _validate_into(source: IO[bytes], shown_name: str, accepted_csv: IO[bytes], piece_bytes: int) -> UploadReport:
    """Validate `source` piece by piece, writing the accepted rows to `accepted_csv` as CSV with one header."""
    # Imported here: they bring pandas, which only uploads need (the workers start about 2 s faster without it).
    from common.csv_stream import validate_pieces
    from common.csv_validation import FileInvalid

    report = UploadReport(filename=shown_name)
    try:
        for index, piece in enumerate(validate_pieces(source, shown_name, piece_bytes, max_record_bytes=piece_bytes)):
            piece.accepted.to_csv(accepted_csv, index=False, header=index == 0)
            report.accepted += len(piece.accepted)
            report.add_rejected(piece.rejected)
    except FileInvalid as exc:
        return UploadReport(filename=shown_name, file_error=str(exc))
    return report


def validate_and_store(
    source: IO[bytes], filename: str, store: BlobStore, now: datetime | None = None, *, piece_bytes: int = PIECE_BYTES
) -> UploadReport:
    """Validate the uploaded stream, then store the accepted rows (or nothing). Store errors propagate."""
    shown_name = filename or "upload.csv"
    with tempfile.TemporaryFile() as accepted_csv:
        report = _validate_into(source, shown_name, accepted_csv, piece_bytes)
        if report.file_error:
            log.info("upload refused", extra={"upload": shown_name, "reason": report.file_error})
            return report
        if not report.accepted:
            log.info("upload has no valid row", extra={"upload": shown_name, "rejected": report.rejected_count})
            return report
        name = object_name(filename, now)
        accepted_csv.seek(0)
        store.write_from(name, accepted_csv, content_type="text/csv")
    report.stored_name = name
    report.stored_url = f"{store.url.rstrip('/')}/{name}"
    log.info(
        "upload stored",
        extra={
            "upload": shown_name,
            "object": report.stored_url,
            "accepted": report.accepted,
            "rejected": report.rejected_count,
        },
    )
    return report
