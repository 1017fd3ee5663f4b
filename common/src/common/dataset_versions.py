"""Committed dataset versions in the datasets bucket: the layout, the manifest, and the commit rule.

    versioned/v{N}/train.parquet
    versioned/v{N}/valid.parquet
    versioned/v{N}/_MANIFEST.json      <- written last; its presence is what makes v{N} committed

A folder without a manifest is an interrupted run: readers ignore it and the data job cleans it up. The
manifest records row counts and SHA-256 checksums, so a reader detects a damaged file instead of training
on it, and the train split's price range (what the data job checks corrections against). Nothing under
`versioned/` is ever overwritten: every file of a version is created only if absent, so a second writer of
the same version fails loudly instead of replacing committed data.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from common.blobstore import BlobInfo, BlobStore, PreconditionFailed
from common.schema import SCHEMA_VERSION, TRAINING_COLUMNS

VERSIONED_PREFIX = "versioned/"
MANIFEST_NAME = "_MANIFEST.json"
SPLITS = ("train", "valid")
_VERSION_DIR = re.compile(r"^versioned/v(\d+)/")


class DatasetCorrupt(RuntimeError):
    """A committed file does not match its manifest (row count or checksum)."""


class VersionConflict(FileExistsError):
    """A file of the version being committed exists already: another writer got there first."""


@dataclass(frozen=True)
class SplitFile:
    name: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    version: int
    created_at: str
    files: dict[str, SplitFile]
    schema_version: int = SCHEMA_VERSION
    # Provenance: what this version consumed, so a rerun never reads it twice.
    landing_objects: list[dict[str, Any]] = field(default_factory=list)
    corrections_cursor: str | None = None
    instream_batches: list[str] = field(default_factory=list)
    train_price: dict[str, float] | None = None  # {"min": .., "max": ..} of the train split; None if empty/older

    @property
    def rows(self) -> dict[str, int]:
        return {split: f.rows for split, f in self.files.items()}

    def to_json(self) -> bytes:
        doc = asdict(self)
        doc["rows"] = self.rows
        return json.dumps(doc, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        doc = json.loads(data)
        return cls(
            version=int(doc["version"]),
            created_at=doc["created_at"],
            files={k: SplitFile(**v) for k, v in doc["files"].items()},
            schema_version=int(doc.get("schema_version", SCHEMA_VERSION)),
            landing_objects=list(doc.get("landing_objects", [])),
            corrections_cursor=doc.get("corrections_cursor"),
            instream_batches=list(doc.get("instream_batches", [])),
            train_price=doc.get("train_price"),
        )


def version_dir(version: int) -> str:
    return f"{VERSIONED_PREFIX}v{version}/"


def manifest_path(version: int) -> str:
    return version_dir(version) + MANIFEST_NAME


def to_parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.loc[:, list(TRAINING_COLUMNS)].to_parquet(buf, index=False)
    return buf.getvalue()


def committed_versions(store: BlobStore) -> list[Manifest]:
    """Every committed version, oldest first. Folders without a manifest are not versions."""
    manifests = []
    for blob in store.list(VERSIONED_PREFIX):
        match = _VERSION_DIR.match(blob.name)
        if match and blob.name == manifest_path(int(match.group(1))):
            manifests.append(Manifest.from_json(store.read(blob.name)))
    return sorted(manifests, key=lambda m: m.version)


def uncommitted_version_dirs(store: BlobStore) -> dict[int, list[BlobInfo]]:
    """Objects under `versioned/v{N}/` folders that have no manifest: leftovers of interrupted runs."""
    by_version: dict[int, list[BlobInfo]] = {}
    committed = set()
    for blob in store.list(VERSIONED_PREFIX):
        match = _VERSION_DIR.match(blob.name)
        if not match:
            continue
        version = int(match.group(1))
        if blob.name.endswith("/" + MANIFEST_NAME):
            committed.add(version)
        by_version.setdefault(version, []).append(blob)
    return {v: names for v, names in by_version.items() if v not in committed}


def commit_version(
    store: BlobStore,
    version: int,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    *,
    landing_objects: list[dict[str, Any]] | None = None,
    corrections_cursor: str | None = None,
    instream_batches: list[str] | None = None,
    before_manifest: Any = None,
) -> Manifest:
    """Write both splits, then the manifest. Until the manifest exists, the version does not exist.

    Every file is created only if absent (`VersionConflict` otherwise). `before_manifest` is called between the
    data files and the manifest (the fault tests kill the job there).
    """
    if store.exists(manifest_path(version)):
        raise VersionConflict(f"dataset version v{version} is already committed")
    files = {}
    for split, frame in (("train", train), ("valid", valid)):
        data = to_parquet(frame)
        name = f"{version_dir(version)}{split}.parquet"
        _create(store, name, data, "application/octet-stream")
        files[split] = SplitFile(name=name, rows=len(frame), sha256=hashlib.sha256(data).hexdigest())
    if before_manifest is not None:
        before_manifest()
    manifest = Manifest(
        version=version,
        created_at=datetime.now(UTC).isoformat(),
        files=files,
        landing_objects=landing_objects or [],
        corrections_cursor=corrections_cursor,
        instream_batches=instream_batches or [],
        train_price=price_range(train),
    )
    _create(store, manifest_path(version), manifest.to_json(), "application/json")
    return manifest


def price_range(train: pd.DataFrame) -> dict[str, float] | None:
    if train.empty:
        return None
    return {"min": float(train["price"].min()), "max": float(train["price"].max())}


def _create(store: BlobStore, name: str, data: bytes, content_type: str) -> None:
    try:
        store.create_if_absent(name, data, content_type=content_type)
    except PreconditionFailed as exc:
        raise VersionConflict(
            f"{store.url}/{name} exists already: another job is writing or has committed this version; "
            "nothing was overwritten"
        ) from exc


def read_split(store: BlobStore, manifest: Manifest, split: str) -> pd.DataFrame:
    entry = manifest.files[split]
    data = store.read(entry.name)
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise DatasetCorrupt(f"{entry.name}: checksum does not match the v{manifest.version} manifest")
    frame = pd.read_parquet(io.BytesIO(data))
    if len(frame) != entry.rows:
        raise DatasetCorrupt(f"{entry.name}: {len(frame)} rows, the manifest says {entry.rows}")
    return frame


def load_versions(store: BlobStore, up_to: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[int]]:
    """Concatenate train and valid splits of every committed version <= `up_to` (all when None)."""
    manifests = [m for m in committed_versions(store) if up_to is None or m.version <= up_to]
    if not manifests:
        raise LookupError(f"no committed dataset version in {store.url}")
    train = pd.concat([read_split(store, m, "train") for m in manifests], ignore_index=True)
    valid = pd.concat([read_split(store, m, "valid") for m in manifests], ignore_index=True)
    return train, valid, [m.version for m in manifests]
