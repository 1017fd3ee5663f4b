"""Quarantine object names are deterministic, so a rerun overwrites instead of duplicating."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from common.blobstore import FileBlobStore
from common.csv_validation import Rejected
from data_versioning import quarantine
from data_versioning.quarantine import RejectedCorrection


def test_landing_names_carry_object_and_generation() -> None:
    assert quarantine.rejected_rows_name("2024/jan.csv", 17) == "quarantine/landing/2024/jan.csv@17.rejected.csv"
    assert quarantine.invalid_file_names("x.csv", 3) == (
        "quarantine/landing/x.csv@3.file",
        "quarantine/landing/x.csv@3.reason.txt",
    )
    assert quarantine.rejected_rows_name("x.csv", 3) != quarantine.rejected_rows_name("x.csv", 4)


def test_corrections_name_depends_only_on_the_start_cursor() -> None:
    first = quarantine.corrections_name(None)
    assert first == quarantine.corrections_name(None)
    assert first.startswith("quarantine/corrections/after-") and first.endswith(".rejected.csv")
    assert quarantine.corrections_name("42") != first
    assert quarantine.corrections_name("a/b?c").count("/") == 2  # an opaque cursor never makes sub-folders


def test_rerun_overwrites_the_same_quarantine_objects(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    for _ in range(2):
        quarantine.quarantine_file(store, "bad.csv", 9, io.BytesIO(b"\xff\xfe"), "bad.csv: not UTF-8 text (byte 0)")
        with quarantine.RejectedRows() as rejected:
            rejected.add([Rejected(3, "price: must be greater than 0", {"price": "-1"})])
            rejected.write(store, "half.csv", 9)
    assert [b.name for b in store.list()] == [
        "quarantine/landing/bad.csv@9.file",
        "quarantine/landing/bad.csv@9.reason.txt",
        "quarantine/landing/half.csv@9.rejected.csv",
    ]
    assert store.read("quarantine/landing/bad.csv@9.reason.txt").decode().strip() == "bad.csv: not UTF-8 text (byte 0)"
    assert store.read("quarantine/landing/bad.csv@9.file") == b"\xff\xfe"


def test_rejected_corrections_csv_names_event_and_reason() -> None:
    rows = list(
        csv.DictReader(
            io.StringIO(
                quarantine.corrections_csv(
                    [RejectedCorrection("ev-1", "c7", "price: must be greater than 0 (got -1)", {"price": -1})]
                ).decode()
            )
        )
    )
    assert rows[0]["event_id"] == "ev-1"
    assert rows[0]["cursor"] == "c7"
    assert rows[0]["reason"].startswith("price:")
    assert rows[0]["price"] == "-1"


def test_rejected_rows_are_written_as_one_csv_from_many_pieces(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    with quarantine.RejectedRows() as rejected:
        rejected.add([Rejected(2, "bedrooms: must be a number", {"bedrooms": "three"})])
        rejected.add([Rejected(900, "has 3 values, the header has 18", {})])
        target = rejected.write(store, "big.csv", 4)
    assert rejected.count == 2
    rows = list(csv.DictReader(io.StringIO(store.read(target).decode())))
    assert [(r["line"], r["reason"].split(":")[0], r["bedrooms"]) for r in rows] == [
        ("2", "bedrooms", "three"),
        ("900", "has 3 values, the header has 18", ""),
    ]


def test_an_object_over_the_cap_leaves_only_its_reason(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    quarantine.quarantine_reason(store, "huge.csv", 5, "huge.csv: 2000 bytes, over the cap of 1000 bytes")
    assert [b.name for b in store.list()] == ["quarantine/landing/huge.csv@5.reason.txt"]
