"""Field rules and the messages a person sees for bad input."""

import pytest

from common.schema import FIELD_NAMES, INPUT_FIELDS, RecordInvalid, validate_record


def good_record(**changes):
    record = {f.name: f.example for f in INPUT_FIELDS}
    record.update(changes)
    return record


def errors_of(record, **kwargs):
    with pytest.raises(RecordInvalid) as caught:
        validate_record(record, **kwargs)
    return caught.value.fields


def test_has_the_sixteen_seed_fields_in_order():
    assert FIELD_NAMES == (
        "bedrooms", "bathrooms", "sqft_living", "sqft_lot", "floors", "waterfront", "view", "condition",
        "sqft_above", "sqft_basement", "yr_built", "yr_renovated", "street", "city", "statezip", "country",
    )  # fmt: skip


def test_valid_record_is_typed_and_trimmed():
    clean = validate_record(good_record(sqft_living="2000", street="  1 Main St ", bedrooms="3"))
    assert clean["sqft_living"] == 2000 and isinstance(clean["sqft_living"], int)
    assert clean["bedrooms"] == 3.0
    assert clean["street"] == "1 Main St"


def test_unknown_keys_are_ignored():
    assert "date" not in validate_record(good_record(date="2014-05-02", csrf_token="x"))


def test_missing_fields_are_each_named():
    record = good_record()
    del record["city"], record["sqft_lot"]
    assert errors_of(record) == {"city": "is required", "sqft_lot": "is required"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sqft_living", "big", "must be a number (got 'big')"),
        ("sqft_living", 12.5, "must be a whole number (got 12.5)"),
        ("bedrooms", -1, "must be at least 0 (got -1)"),
        ("condition", 9, "must be at most 5 (got 9)"),
        ("waterfront", True, "must be a number, not true/false"),
        ("floors", float("nan"), "must be a finite number"),
        ("city", "   ", "is required"),
        ("street", "x" * 201, "must be at most 200 characters (got 201)"),
    ],
)
def test_field_messages(field, value, message):
    assert errors_of(good_record(**{field: value})) == {field: message}


def test_price_is_required_only_for_training_rows_and_must_be_positive():
    assert "price" not in validate_record(good_record())
    assert errors_of(good_record(), require_price=True) == {"price": "is required"}
    assert errors_of(good_record(price=0), require_price=True) == {"price": "must be greater than 0 (got 0)"}
    assert validate_record(good_record(price="313000.0"), require_price=True)["price"] == 313000.0


def test_impossible_combinations():
    fields = errors_of(good_record(yr_built=1990, yr_renovated=1980, sqft_living=1000, sqft_above=1200))
    assert fields["yr_renovated"].startswith("cannot be before yr_built (1990)")
    assert fields["sqft_above"] == "cannot exceed sqft_living (1000)"


def test_not_an_object():
    assert errors_of(["not", "a", "dict"]) == {"record": "must be a JSON object with the house fields"}


def test_error_message_names_every_field():
    with pytest.raises(RecordInvalid, match="bedrooms: must be at least 0"):
        validate_record(good_record(bedrooms=-2))
