"""Validate whole CSV files of house records: good rows come back typed, every bad row with its reason.

The cheap vectorised pass only decides which rows are suspect; every suspect row is then checked by
`schema.validate_record`, which is the single authority on what a row's problem is.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from common.schema import (
    FIELDS_BY_NAME,
    INPUT_FIELDS,
    PRICE,
    TEXT_FIELDS,
    TRAINING_COLUMNS,
    RecordInvalid,
    screen,
    validate_record,
)


class FileInvalid(ValueError):
    """The file as a whole cannot be read as house records (encoding, header, no rows)."""


@dataclass
class Rejected:
    line: int  # line number in the file, the header being line 1
    reason: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class CsvReport:
    source: str
    accepted: pd.DataFrame
    rejected: list[Rejected]

    @property
    def summary(self) -> dict[str, int | str]:
        return {"source": self.source, "accepted": len(self.accepted), "rejected": len(self.rejected)}

    def rejected_csv(self) -> bytes:
        """The rejected rows as CSV (line, reason, then the original values) for the quarantine."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["line", "reason", *TRAINING_COLUMNS])
        for r in self.rejected:
            writer.writerow([r.line, r.reason, *(r.values.get(c, "") for c in TRAINING_COLUMNS)])
        return buf.getvalue().encode()


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileInvalid(f"{source}: not UTF-8 text (byte {exc.start})") from exc


def _suspect_mask(frame: pd.DataFrame, require_price: bool) -> np.ndarray:
    """True for rows that may break a rule (the schema's column-wise `screen`); false only for rows certain to
    pass."""
    specs = [*INPUT_FIELDS, PRICE] if require_price else list(INPUT_FIELDS)
    numbers: dict[str, np.ndarray] = {}
    lengths: dict[str, np.ndarray] = {}
    for spec in specs:
        stripped = frame[spec.name].str.strip()
        if spec.is_text:
            lengths[spec.name] = stripped.str.len().to_numpy()
        else:
            numbers[spec.name] = pd.to_numeric(stripped, errors="coerce").astype("float64").to_numpy()
    return screen(numbers, lengths, len(frame))


def _typed(frame: pd.DataFrame, require_price: bool) -> pd.DataFrame:
    out = {}
    columns = TRAINING_COLUMNS if require_price else TRAINING_COLUMNS[:-1]
    for name in columns:
        spec = FIELDS_BY_NAME[name]
        column = frame[name]
        if spec.is_text:
            out[name] = column.str.strip().astype(object)
        else:
            numeric = pd.to_numeric(column.str.strip()).astype("float64")
            out[name] = numeric.astype("int64") if spec.kind == "int" else numeric
    return pd.DataFrame(out, columns=list(columns)).reset_index(drop=True)


def validate_csv(data: bytes, source: str, *, require_price: bool = True) -> CsvReport:
    """Parse and validate CSV bytes. Raises `FileInvalid` only when no row can be judged at all."""
    text = _decode(data, source)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise FileInvalid(f"{source}: the file is empty") from None
    except csv.Error as exc:
        raise FileInvalid(f"{source}: cannot read the header: {exc}") from exc
    required = TRAINING_COLUMNS if require_price else TRAINING_COLUMNS[:-1]
    missing = [c for c in required if c not in header]
    if missing:
        raise FileInvalid(f"{source}: missing column(s) {', '.join(missing)}")
    positions = {name: header.index(name) for name in required}

    rows: list[list[str]] = []
    lines: list[int] = []
    rejected: list[Rejected] = []
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line = reader.line_num
            rejected.append(Rejected(line, f"unreadable CSV: {exc}"))
            continue
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            values = dict(zip(header, row, strict=False))
            rejected.append(Rejected(line, f"has {len(row)} values, the header has {len(header)}", values))
            continue
        rows.append([row[positions[name]] for name in required])
        lines.append(line)

    frame = (
        pd.DataFrame(rows, columns=list(required), dtype="str")
        if rows
        else pd.DataFrame({c: pd.Series(dtype="str") for c in required})
    )
    suspect = _suspect_mask(frame, require_price) if rows else np.zeros(0, dtype=bool)
    keep = ~suspect
    for index in np.flatnonzero(suspect):
        raw = dict(zip(required, rows[index], strict=True))
        try:
            clean = validate_record(raw, require_price=require_price)
        except RecordInvalid as exc:
            rejected.append(Rejected(lines[index], str(exc), raw))
            continue
        keep[index] = True
        # Written back in a form `_typed` reads (a number like "1_000" passes float() but not pandas).
        frame.iloc[index] = [str(clean[name]) for name in required]
    rejected.sort(key=lambda r: r.line)
    accepted = _typed(frame[keep], require_price)
    for name in TEXT_FIELDS:
        accepted[name] = accepted[name].astype(str)
    return CsvReport(source=source, accepted=accepted, rejected=rejected)
