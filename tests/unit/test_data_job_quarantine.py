"""Quarantine object names are deterministic, so a rerun overwrites instead of duplicating."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from common.blobstore import FileBlobStore
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
        quarantine.quarantine_file(store, "bad.csv", 9, b"\xff\xfe", "bad.csv: not UTF-8 text (byte 0)")
        quarantine.quarantine_rows(store, "half.csv", 9, b"line,reason\n3,price: must be greater than 0\n")
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
