"""Object storage behind one small interface: `file://` folders on one machine, `gs://` buckets on GCP.

Writes are atomic per object on both (a temporary file renamed into place; a single GCS upload), which is
what the data job's "manifest written last" commit relies on. `gs://` honours `STORAGE_EMULATOR_HOST`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class BlobInfo:
    name: str  # relative to the store's root, with "/" separators
    generation: int  # changes whenever the object is rewritten
    size: int


class BlobStore(Protocol):
    url: str

    def list(self, prefix: str = "") -> list[BlobInfo]: ...
    def read(self, name: str) -> bytes: ...
    def write(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> BlobInfo: ...
    def exists(self, name: str) -> bool: ...
    def delete(self, name: str) -> None: ...


class BlobNotFound(FileNotFoundError):
    pass


class FileBlobStore:
    """A folder acting as a bucket. Object names may contain "/" (sub-folders are created as needed)."""

    def __init__(self, root: Path):
        self.root = root
        self.url = root.as_uri()
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"object name {name!r} escapes the bucket folder")
        return path

    def list(self, prefix: str = "") -> list[BlobInfo]:
        out = []
        for dirpath, _dirs, files in os.walk(self.root):
            for filename in files:
                if filename.startswith(".tmp-"):
                    continue
                path = Path(dirpath) / filename
                name = path.relative_to(self.root).as_posix()
                if name.startswith(prefix):
                    stat = path.stat()
                    out.append(BlobInfo(name, stat.st_mtime_ns, stat.st_size))
        return sorted(out, key=lambda b: b.name)

    def read(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"{self.url}/{name} does not exist") from None

    def write(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> BlobInfo:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        stat = path.stat()
        return BlobInfo(name, stat.st_mtime_ns, stat.st_size)

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


class GcsBlobStore:
    """A GCS bucket, optionally under a prefix (`gs://bucket/some/prefix`)."""

    def __init__(self, bucket: str, prefix: str = ""):
        from google.cloud import storage

        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            client = storage.Client(
                project=os.environ.get("GCP_PROJECT", "local-project"), credentials=AnonymousCredentials()
            )
        else:
            client = storage.Client()
        self._bucket = client.bucket(bucket)
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"gs://{bucket}/{self._prefix}".rstrip("/")

    def list(self, prefix: str = "") -> list[BlobInfo]:
        start = len(self._prefix)
        return sorted(
            (
                BlobInfo(b.name[start:], int(b.generation or 0), int(b.size or 0))
                for b in self._bucket.client.list_blobs(self._bucket, prefix=self._prefix + prefix)
            ),
            key=lambda b: b.name,
        )

    def read(self, name: str) -> bytes:
        from google.api_core.exceptions import NotFound

        try:
            return self._bucket.blob(self._prefix + name).download_as_bytes()
        except NotFound:
            raise BlobNotFound(f"{self.url}/{name} does not exist") from None

    def write(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> BlobInfo:
        blob = self._bucket.blob(self._prefix + name)
        blob.upload_from_string(data, content_type=content_type)
        return BlobInfo(name, int(blob.generation or 0), len(data))

    def exists(self, name: str) -> bool:
        return self._bucket.blob(self._prefix + name).exists()

    def delete(self, name: str) -> None:
        from google.api_core.exceptions import NotFound

        with contextlib.suppress(NotFound):
            self._bucket.blob(self._prefix + name).delete()


def open_store(url: str) -> BlobStore:
    """`file:///abs/path` or `gs://bucket[/prefix]`; anything else fails naming the URL."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FileBlobStore(Path(unquote(parsed.path)))
    if parsed.scheme == "gs" and parsed.netloc:
        return GcsBlobStore(parsed.netloc, parsed.path)
    raise ValueError(f"unsupported bucket URL {url!r}: use file:///path or gs://bucket[/prefix]")
