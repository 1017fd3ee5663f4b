"""Whole-file CSV validation: good rows typed, every bad row with its line and reason."""

from pathlib import Path

import pytest

from common.csv_validation import FileInvalid, validate_csv
from common.schema import RecordInvalid, validate_record

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dataset" / "data.csv"
HEADER = (
    "date,price,bedrooms,bathrooms,sqft_living,sqft_lot,floors,waterfront,view,condition,sqft_above,"
    "sqft_basement,yr_built,yr_renovated,street,city,statezip,country"
)
GOOD = (
    "2014-05-02 00:00:00,313000.0,3.0,1.5,1340,7912,1.5,0,0,3,1340,0,1955,2005,"
    "18810 Densmore Ave N,Shoreline,WA 98133,USA"
)


def test_sample_dataset_rejects_exactly_the_invalid_rows():
    import csv

    report = validate_csv(SAMPLE.read_bytes(), "data.csv")
    with SAMPLE.open() as handle:
        rows = list(csv.DictReader(handle))
    expected_bad = []
    for line, row in enumerate(rows, start=2):
        try:
            validate_record(row, require_price=True)
        except RecordInvalid:
            expected_bad.append(line)
    assert [r.line for r in report.rejected] == expected_bad
    assert len(report.accepted) + len(report.rejected) == len(rows) == 3583
    assert len(report.rejected) == 44 + 149 - 2  # price 0; renovated before built; 2 rows have both
    assert list(report.accepted.columns[-1:]) == ["price"]
    assert report.accepted["sqft_living"].dtype == "int64"


def test_bad_rows_get_line_numbers_and_reasons_while_good_rows_pass():
    text = "\n".join(
        [
            HEADER,
            GOOD,
            GOOD.replace("1340,7912", "lots,7912"),
            GOOD.replace("313000.0", "-5"),
            "only,three,values",
            GOOD,
        ]
    )
    report = validate_csv(text.encode(), "mixed.csv")
    assert len(report.accepted) == 2
    reasons = {r.line: r.reason for r in report.rejected}
    assert reasons == {
        3: "sqft_living: must be a number (got 'lots')",
        4: "price: must be greater than 0 (got -5)",
        5: "has 3 values, the header has 18",
    }
    quarantine = report.rejected_csv().decode().splitlines()
    assert quarantine[0].startswith("line,reason,bedrooms")
    assert len(quarantine) == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty.csv: the file is empty"),
        (b"\xff\xfe\x00garbage", "empty.csv: not UTF-8 text"),
        (b"price,bedrooms\n1,2\n", "empty.csv: missing column(s) bathrooms, sqft_living"),
    ],
)
def test_unreadable_files_name_the_file_and_the_problem(data, message):
    with pytest.raises(FileInvalid, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_csv(data, "empty.csv")


def test_header_only_file_is_valid_and_empty():
    report = validate_csv((HEADER + "\n").encode(), "h.csv")
    assert len(report.accepted) == 0 and report.rejected == []
