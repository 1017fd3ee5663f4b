"""`/upload` against a real `file://` landing bucket: the per-row report (listing at most MAX_REJECTED_KEPT rows),
only valid rows stored, nothing stored for an unreadable file or a file without a valid row, and the size limit."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from common.blobstore import open_store
from common.csv_validation import validate_csv
from common.schema import TRAINING_COLUMNS
from tests.unit import webapp_support as ws
from webapp.upload import MAX_REJECTED_KEPT, object_name

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dataset" / "data.csv"
HEADER = ",".join(("date", *TRAINING_COLUMNS))
GOOD = [
    "2014-05-02,3,1.5,1340,7912,1.5,0,0,3,1340,0,1955,2005,18810 Densmore Ave N,Shoreline,WA 98133,USA,313000",
    "2014-05-02,5,2.5,3650,9050,2,0,4,5,3370,280,1921,0,709 W Blaine St,Seattle,WA 98119,USA,2384000",
    '2014-05-02,3,2,1930,11947,1,0,0,4,1930,0,1966,0,"26206-26214 143rd Ave SE",Kent,WA 98042,USA,342000',
]
BAD = [
    "2014-05-02,3,2,1000,5000,1,0,0,3,1000,0,1990,0,1 Bad Price Rd,Kent,WA 98042,USA,-5",  # line 5
    "2014-05-02,three,2,1000,5000,1,0,0,3,1000,0,1990,0,2 Bad Rooms Rd,Kent,WA 98042,USA,300000",  # line 6
    "2014-05-02,3,2,1000,5000,1,0,0,3,1000,0,1990,0,3 Short Row Rd",  # line 7
]


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return ws.make_app(tmp_path, max_upload_bytes=1024 * 1024).test_client()


def landing(tmp_path: Path):
    return open_store((tmp_path / "landing").as_uri())


def upload(client: FlaskClient, data: bytes, filename: str = "houses.csv"):
    token = ws.csrf_token(client.get("/upload").get_data(as_text=True))
    return client.post(
        "/upload",
        data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_a_mixed_file_gets_a_report_and_only_its_good_rows_are_stored(client: FlaskClient, tmp_path: Path) -> None:
    data = "\n".join([HEADER, *GOOD, *BAD]).encode()
    response = upload(client, data, "march sales.csv")
    assert response.status_code == 200
    text = ws.text_of(response.get_data(as_text=True))
    assert "Rows accepted 3" in text and "Rows rejected 3" in text
    assert "5 price: must be greater than 0 (got -5)" in text
    assert "6 bedrooms: must be a number (got 'three')" in text
    assert "7 has 14 values, the header has 18" in text

    stored = landing(tmp_path).list()
    assert len(stored) == 1
    assert stored[0].name.startswith("uploads/") and stored[0].name.endswith("-march_sales.csv")
    assert stored[0].name in text
    report = validate_csv(landing(tmp_path).read(stored[0].name), "stored")
    assert report.rejected == []
    assert list(report.accepted["street"]) == ["18810 Densmore Ave N", "709 W Blaine St", "26206-26214 143rd Ave SE"]
    assert list(report.accepted["price"]) == [313000.0, 2384000.0, 342000.0]


def test_a_file_werkzeug_spools_to_disk_is_streamed_to_the_rows_of_one_validation(
    client: FlaskClient, tmp_path: Path
) -> None:
    header, *rows = SAMPLE.read_bytes().splitlines(keepends=True)
    data = header + b"".join(rows) * 2  # ~800 KB: past Werkzeug's 500 KB in-memory spool
    whole = validate_csv(data, "sales.csv")
    response = upload(client, data, "sales.csv")
    assert response.status_code == 200
    text = ws.text_of(response.get_data(as_text=True))
    assert f"Rows accepted {len(whole.accepted)}" in text and f"Rows rejected {len(whole.rejected)}" in text
    (stored,) = landing(tmp_path).list()
    assert landing(tmp_path).read(stored.name) == whole.accepted.to_csv(index=False).encode()


def test_the_report_lists_the_first_rejected_rows_and_counts_all(client: FlaskClient) -> None:
    bad_rows = 1_200
    response = upload(client, "\n".join([HEADER, GOOD[0], *([BAD[0]] * bad_rows)]).encode())
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = ws.text_of(page)
    assert f"Rows rejected {bad_rows}" in text
    assert f"… and {bad_rows - MAX_REJECTED_KEPT} more rejected rows" in text
    assert page.count("price: must be greater than 0") == MAX_REJECTED_KEPT


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the file is empty"),
        (b"bedrooms,bathrooms\n3,2\n", "missing column(s)"),
        (HEADER.encode() + b"\n" + GOOD[0].replace("Shoreline", "Sh\xf6reline").encode("latin-1"), "not UTF-8"),
    ],
)
def test_an_unreadable_file_stores_nothing(client: FlaskClient, tmp_path: Path, data: bytes, reason: str) -> None:
    response = upload(client, data)
    assert response.status_code == 422
    text = ws.text_of(response.get_data(as_text=True))
    assert "The file could not be read, so nothing was stored" in text and reason in text
    assert landing(tmp_path).list() == []


def test_a_file_without_a_valid_row_stores_nothing(client: FlaskClient, tmp_path: Path) -> None:
    response = upload(client, "\n".join([HEADER, *BAD]).encode())
    assert response.status_code == 422
    text = ws.text_of(response.get_data(as_text=True))
    assert "Rows accepted 0" in text and "No row is valid, so nothing was stored" in text
    assert landing(tmp_path).list() == []


def test_a_file_over_the_limit_is_refused_with_a_clear_message(client: FlaskClient, tmp_path: Path) -> None:
    rows = [HEADER, *(GOOD[0] for _ in range(12_000))]  # about 1.3 MB, over the 1 MB limit of this app
    response = upload(client, "\n".join(rows).encode())
    assert response.status_code == 413
    assert "larger than the 1 MB upload limit" in ws.text_of(response.get_data(as_text=True))
    assert landing(tmp_path).list() == []


def test_no_file_chosen(client: FlaskClient, tmp_path: Path) -> None:
    token = ws.csrf_token(client.get("/upload").get_data(as_text=True))
    response = client.post("/upload", data={"csrf_token": token}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose a CSV file" in ws.text_of(response.get_data(as_text=True))


def test_object_names_are_timestamped_and_safe() -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert object_name("../../etc/evil name.CSV", moment) == "uploads/20250102T030405.000006Z-etc_evil_name.csv"
    assert object_name("", moment) == "uploads/20250102T030405.000006Z-upload.csv"
    assert object_name("<script>.csv", moment) == "uploads/20250102T030405.000006Z-script.csv"
