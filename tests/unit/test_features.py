"""The feature transformer: the single-record path gives exactly the batch path's numbers."""

from pathlib import Path

import numpy as np

from common.csv_validation import validate_csv
from common.features import HouseFeatures, hash_bucket

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dataset" / "data.csv"


def sample_frame():
    return validate_csv(SAMPLE.read_bytes(), "data.csv").accepted


def test_single_record_path_equals_batch_path_on_every_sample_row():
    frame = sample_frame()
    features = HouseFeatures().fit(frame)
    batch = features.transform(frame)
    for i, record in enumerate(frame.to_dict(orient="records")):
        single = features.transform_record(record)
        assert single.shape == (1, features.n_features)
        assert np.array_equal(single[0], batch[i]), f"row {i} differs"


def test_hashing_is_stable_and_normalised():
    assert hash_bucket("city", "Seattle", 32) == hash_bucket("city", "  seattle ", 32)
    clean = hash_bucket("street", "18810 Densmore Ave N", 1 << 30)
    for messy in ("18810  Densmore   Ave N", " 18810 DENSMORE\tAve  n\n", "18810\u00a0Densmore Ave N"):
        assert hash_bucket("street", messy, 1 << 30) == clean, repr(messy)
    assert hash_bucket("street", "18810 DensmoreAve N", 1 << 30) != clean  # spacing is collapsed, not removed
    # A fixed value: CRC32 does not depend on the process (unlike hash()), so models stay valid everywhere.
    assert hash_bucket("city", "Seattle", 1 << 30) == 3493104243 % (1 << 30)


def test_one_hot_per_text_field_and_names_match_width():
    frame = sample_frame().head(50)
    features = HouseFeatures(street_buckets=4, city_buckets=8, statezip_buckets=8, country_buckets=2)
    matrix = features.fit_transform(frame)
    assert matrix.shape == (50, 12 + 3 + 4 + 8 + 8 + 2)
    assert len(features.get_feature_names_out()) == matrix.shape[1]
    hashed = matrix[:, 15:]
    assert (hashed.sum(axis=1) == 4).all()  # exactly one bucket set per text field


def test_accepts_a_list_of_records():
    frame = sample_frame().head(3)
    features = HouseFeatures()
    assert np.array_equal(features.transform(frame.to_dict(orient="records")), features.transform(frame))


def test_both_paths_ignore_case_and_spacing_alike():
    """Messy text gives the clean text's features, through the batch path and the single-record path."""
    frame = sample_frame().head(40)
    messy = frame.copy()
    for name in ("street", "city", "statezip", "country"):
        messy[name] = [f"  {value.upper().replace(' ', '   ')}\t" for value in frame[name]]
    features = HouseFeatures()
    clean = features.transform(frame)
    assert np.array_equal(features.transform(messy), clean)
    for i, record in enumerate(messy.to_dict(orient="records")):
        assert np.array_equal(features.transform_record(record)[0], clean[i]), f"row {i} differs"


def test_validated_columns_give_the_dataframes_numbers_in_both_location_modes():
    """The batch route hands `transform` the columns of `validate_records`, with no DataFrame in between."""
    from common.schema import FIELD_NAMES, validate_records

    frame = sample_frame()
    records = frame.loc[:, list(FIELD_NAMES)].to_dict(orient="records")
    columns = validate_records(records).columns
    for features in (HouseFeatures(), HouseFeatures(location="target").fit(frame, frame["price"])):
        assert np.array_equal(features.transform(columns), features.transform(frame.loc[:, list(FIELD_NAMES)]))
