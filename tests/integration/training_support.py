"""Helpers for the training tests: a `file://` datasets bucket with versions cut from the sample data, and
trainer settings pointing at it and at a real MLflow server."""

from __future__ import annotations

import functools
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from common.blobstore import FileBlobStore
from common.csv_validation import validate_csv
from common.dataset_versions import commit_version
from common.events import Event
from common.settings import Settings

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
VERSION_COUNT = 2  # the sample is cut into this many dataset versions

# A family folder's family.py: worse on the holdout than models/linear_regression, though better than the median.
WEAK_FAMILY = '''"""Ridge on log(price) shrunk so hard it is worse than the champion, though better than the median."""
import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

PARAMS = {"alpha": 10000.0}


def build_estimator(alpha):
    regressor = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
    return TransformedTargetRegressor(regressor=regressor, func=np.log1p, inverse_func=np.expm1)
'''


@functools.cache
def sample_rows() -> pd.DataFrame:
    """The sample data as versioned data holds it: only rows that pass validation, typed."""
    return validate_csv((REPO / "sample_dataset" / "data.csv").read_bytes(), "data.csv").accepted


def commit_sample_version(store: FileBlobStore, version: int) -> None:
    """Commit part `version` (1-based) of the shuffled sample: 80% train, 20% valid."""
    rows = sample_rows()
    parts = np.array_split(np.random.default_rng(7).permutation(len(rows)), VERSION_COUNT)
    part = rows.iloc[parts[version - 1]].reset_index(drop=True)
    cut = int(len(part) * 0.8)
    commit_version(store, version, part.iloc[:cut], part.iloc[cut:])


def write_families(models_dir: Path, sources: dict[str, str]) -> Path:
    """A models folder holding one `<name>/family.py` per entry of `sources`; returns `models_dir`."""
    for name, source in sources.items():
        (models_dir / name).mkdir(parents=True)
        (models_dir / name / "family.py").write_text(source)
    return models_dir


def unique_model_name() -> str:
    return f"house-price-test-{uuid.uuid4().hex[:8]}"


def trainer_settings(bucket: FileBlobStore, tracking_uri: str, model_name: str, project: str) -> Settings:
    return Settings.from_env(
        "trainer",
        env={
            "DATASETS_BUCKET": bucket.url,
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MODEL_NAME": model_name,
            "GCP_PROJECT": project,
            "PLATFORM_DATA_DIR": str(bucket.root.parent),
        },
    )


def pull_events(project: str, subscription: str, want: int, timeout: float = 30.0) -> list[Event]:
    """Pull (and ack) until `want` events arrived or `timeout` passed; returns what arrived."""
    import time

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, subscription)
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    try:
        while len(events) < want and time.monotonic() < deadline:
            try:
                response = subscriber.pull(request={"subscription": path, "max_messages": 10}, timeout=5.0)
            except gexc.DeadlineExceeded:
                continue
            if response.received_messages:
                events += [Event.from_json(m.message.data) for m in response.received_messages]
                subscriber.acknowledge(
                    request={"subscription": path, "ack_ids": [m.ack_id for m in response.received_messages]}
                )
    finally:
        subscriber.close()
    return events
