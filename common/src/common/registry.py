"""MLflow model-registry helpers shared by the trainer and the serving app.

One registered model (`house-price` by default) holds every family's candidates; the `champion` alias points
at the version that serves. This module is the one place that knows which classes a logged model may
contain (`TRUSTED_TYPES`) and how such a model is loaded back.

Models are logged with skops (MLflow's default format), which refuses to build any class that is not on an
allow-list. MLflow's own loader takes that list from the model's `MLmodel` file, i.e. from the model itself,
and therefore insists on `MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true`. `load_model` here checks the model
against *our* list instead, so nothing global has to be switched on and a model that smuggles in another
class is refused with `UntrustedModel`.

Whose fault a failed load is shows in the exception type: `UnusableModel` (`UntrustedModel`, `CorruptModel`)
means the model's own files are to blame and no retry would load them; anything else (MLflow or storage
errors while resolving or downloading the files) is not the model's fault.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from common.contracts.drift import ReferenceProfile

# Classes outside skops' built-in safe set (sklearn estimators, numpy ufuncs...) that our models contain.
# Adding a family whose estimator needs another class: review the class, then add it here.
TRUSTED_TYPES: tuple[str, ...] = (
    "common.features.HouseFeatures",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)

# Model-version tags written by the trainer (and read by mlapp / the web UI).
TAG_FAMILY = "family"
TAG_DATASET_VERSION = "dataset_version"
TAG_DECISION = "promotion_decision"  # "promoted" | "rejected" | "deferred" (to the next run)
TAG_REASON = "promotion_reason"
TAG_COMPARED_WITH = "compared_with_version"
TAG_SERVING_FORM = "serving_form"  # common.compiled.Verdict of the version's compiled single-row form
HOLDOUT_TAG_PREFIX = "holdout_"  # holdout_mae, holdout_rmse, holdout_r2, holdout_rows
TAG_REFERENCE_PROFILE = "reference_profile"  # the run artifact holding the version's ReferenceProfile
PROFILE_ARTIFACT = "reference_profile.json"


class UnusableModel(RuntimeError):
    """The model's own files cannot be loaded (raised only after they were downloaded): the fault is the
    model's, not the registry's or the storage's, and loading them again would fail the same way."""


class UntrustedModel(UnusableModel):
    """The model is not in the skops format, or contains a class that is not in `TRUSTED_TYPES`."""


class CorruptModel(UnusableModel):
    """The downloaded model files cannot be read back: a damaged MLmodel file or serialised model, or a
    class that no longer exists in the installed code."""


def client(tracking_uri: str) -> MlflowClient:
    """A client whose tracking and registry calls both go to the MLflow server at `tracking_uri`."""
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def model_uri(name: str, version: int | str | None = None, alias: str | None = None) -> str:
    if (version is None) == (alias is None):
        raise ValueError("give exactly one of version and alias")
    return f"models:/{name}@{alias}" if alias else f"models:/{name}/{version}"


def get_champion(mlflow_client: MlflowClient, name: str, alias: str = "champion") -> ModelVersion | None:
    """The version the alias points at; None when the model or the alias does not exist (yet)."""
    try:
        registered = mlflow_client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    version = registered.aliases.get(alias)
    return None if version is None else mlflow_client.get_model_version(name, str(version))


def set_champion(mlflow_client: MlflowClient, name: str, version: int | str, alias: str = "champion") -> None:
    """Point the alias at `version` (creates it, or moves it away from the previous champion)."""
    mlflow_client.set_registered_model_alias(name, alias, str(version))


def register_version(
    mlflow_client: MlflowClient,
    name: str,
    model_uri: str,
    *,
    run_id: str | None = None,
    model_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Register a logged model as a new version of `name` (created if needed), through this client only:
    `mlflow.register_model` would use the process-wide registry URI instead."""
    try:
        mlflow_client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    return mlflow_client.create_model_version(
        name,
        source=model_uri,
        run_id=run_id,
        tags={k: tag_value(v) for k, v in (tags or {}).items()},
        model_id=model_id,
    )


def tag_value(value: Any) -> str:
    """Tags are strings: floats keep full precision, None becomes ""."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def set_version_tags(mlflow_client: MlflowClient, name: str, version: int | str, tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, str(version), key, tag_value(value))


def _number(raw: str | None) -> float | int | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in raw and "e" not in raw.lower() else value


def describe(version: ModelVersion) -> dict[str, Any]:
    """`{"name", "version", "family", "dataset_version", "run_id", "holdout_mae", ...}` of one model version."""
    tags = version.tags or {}
    info: dict[str, Any] = {
        "name": version.name,
        "version": int(version.version),
        "family": tags.get(TAG_FAMILY),
        "dataset_version": _number(tags.get(TAG_DATASET_VERSION)),
        "run_id": version.run_id,
    }
    for key in sorted(tags):
        if key.startswith(HOLDOUT_TAG_PREFIX):
            info[key] = _number(tags[key])
    return info


def artifact_location(uri: str, tracking_uri: str) -> str:
    """Where the files of a `models:/` URI are, resolved against `tracking_uri` (MLflow's own resolution of
    `models:/` URIs uses the process-wide registry URI, whatever is passed)."""
    if not uri.startswith("models:/"):
        return uri
    mlflow_client = client(tracking_uri)
    target = uri[len("models:/") :].strip("/")
    if "@" in target:
        name, alias = target.split("@", 1)
        return mlflow_client.get_model_version_download_uri(
            name, mlflow_client.get_model_version_by_alias(name, alias).version
        )
    if "/" in target:
        name, version = target.rsplit("/", 1)
        return mlflow_client.get_model_version_download_uri(name, version)
    return mlflow_client.get_logged_model(target).artifact_location  # models:/<logged model id>


def load_model(uri: str, tracking_uri: str | None = None) -> Any:
    """Load a logged sklearn model (`models:/name/3`, `models:/name@champion`, `models:/m-<id>`, `runs:/...`,
    a local folder) from the MLflow server at `tracking_uri` (the process-wide one when None).

    Returns the fitted estimator itself (our Pipeline), not a pyfunc wrapper, so callers can use
    `named_steps` for the single-record path.
    """
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    location = uri if tracking_uri is None else artifact_location(uri, tracking_uri)
    with tempfile.TemporaryDirectory(prefix="model-") as tmp:
        local = Path(
            download_artifacts(
                artifact_uri=location, dst_path=tmp, tracking_uri=tracking_uri, registry_uri=tracking_uri
            )
        )
        try:
            flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["sklearn"]
        except (FileNotFoundError, KeyError, TypeError) as exc:
            raise UntrustedModel(f"{uri} is not an MLflow sklearn model ({exc})") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise CorruptModel(f"{uri} has an unreadable MLmodel file ({exc})") from exc
        if flavor.get("serialization_format") != "skops":
            raise UntrustedModel(
                f"{uri} is serialised as {flavor.get('serialization_format')!r}; only skops models are loaded"
            )
        try:
            return skops.io.load(local / flavor["pickled_model"], trusted=list(TRUSTED_TYPES))
        except UntrustedTypesFoundException as exc:
            raise UntrustedModel(f"{uri} contains classes outside common.registry.TRUSTED_TYPES: {exc}") from exc
        except (OSError, MemoryError):
            raise  # the local disk or the machine, not the model
        except Exception as exc:  # the files are local by now: BadZipFile, KeyError, ImportError... are the model's
            raise CorruptModel(f"{uri} cannot be deserialised: {type(exc).__name__}: {exc}") from exc


def load_version(tracking_uri: str, name: str, version: int | str) -> Any:
    return load_model(model_uri(name, version=version), tracking_uri=tracking_uri)


def log_profile(mlflow_client: MlflowClient, run_id: str, profile: ReferenceProfile) -> str:
    """The reference profile of a run's training rows as its artifact; returns the artifact's path, which the
    version registered from the run carries in its `TAG_REFERENCE_PROFILE` tag."""
    mlflow_client.log_text(run_id, profile.model_dump_json(), PROFILE_ARTIFACT)
    return PROFILE_ARTIFACT


def load_profile(tracking_uri: str, version: ModelVersion) -> ReferenceProfile | None:
    """The reference profile of a model version; None for a version registered without one (before profiles
    were logged). Raises when the tagged artifact cannot be downloaded or is not a valid profile."""
    path = (version.tags or {}).get(TAG_REFERENCE_PROFILE)
    if not path or not version.run_id:
        return None
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        local = download_artifacts(run_id=version.run_id, artifact_path=path, dst_path=tmp, tracking_uri=tracking_uri)
        return ReferenceProfile.model_validate_json(Path(local).read_text())
