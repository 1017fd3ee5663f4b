"""The `gs://` blob store (see `common.blobstore` for the interface). Needs the `gcs` extra of `common`.

Conditional writes pass `if_generation_match` to GCS, which checks it server side: 0 means "must not exist".
A lost race answers 412, raised here as `PreconditionFailed`. Streaming reads and writes go through the
client's chunked reader and resumable upload, so an object is never held whole in memory.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO, Any, BinaryIO, cast

from google.api_core.exceptions import NotFound
from google.api_core.exceptions import PreconditionFailed as GcsPreconditionFailed

from common.blobstore import BlobInfo, BlobNotFound, PreconditionFailed
from common.settings import LOCAL_PROJECT, gcp_project

STREAM_CHUNK_BYTES = 8 * 1024 * 1024  # a multiple of 256 KiB, as resumable uploads require


class GcsBlobStore:
    """A GCS bucket, optionally under a prefix (`gs://bucket/some/prefix`)."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None):
        if client is None:
            client = _client()
        self._bucket = client.bucket(bucket)
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"gs://{bucket}/{self._prefix}".rstrip("/")

    def _blob(self, name: str, generation: int | None = None) -> Any:
        return self._bucket.blob(self._prefix + name, generation=generation)

    def _info(self, name: str, blob: Any, size: int | None = None) -> BlobInfo:
        updated = blob.updated.timestamp() if blob.updated is not None else None
        return BlobInfo(name, int(blob.generation or 0), int(blob.size or 0) if size is None else size, updated)

    def list(self, prefix: str = "") -> list[BlobInfo]:
        start = len(self._prefix)
        blobs = self._bucket.client.list_blobs(self._bucket, prefix=self._prefix + prefix)
        return sorted((self._info(b.name[start:], b) for b in blobs), key=lambda b: b.name)

    def read(self, name: str) -> bytes:
        try:
            return cast(bytes, self._blob(name).download_as_bytes())
        except NotFound:
            raise BlobNotFound(f"{self.url}/{name} does not exist") from None

    def read_versioned(self, name: str) -> tuple[bytes, BlobInfo]:
        """The content of the generation the metadata names; a rewrite in between raises `PreconditionFailed`."""
        blob = self._bucket.get_blob(self._prefix + name)
        if blob is None:
            raise BlobNotFound(f"{self.url}/{name} does not exist")
        info = self._info(name, blob)  # before the download, which resets properties from its response headers
        try:
            data = blob.download_as_bytes(if_generation_match=info.generation)
        except NotFound:
            raise BlobNotFound(f"{self.url}/{name} does not exist") from None
        except GcsPreconditionFailed:
            raise PreconditionFailed(f"{self.url}/{name} changed while it was read") from None
        return data, info

    @contextlib.contextmanager
    def open_read(self, name: str, generation: int | None = None) -> Iterator[BinaryIO]:
        """A chunked reader of the current generation (of `generation`, else `BlobNotFound`)."""
        blob = self._blob(name)
        try:
            blob.reload()
        except NotFound:
            raise BlobNotFound(f"{self.url}/{name} does not exist") from None
        current = int(blob.generation or 0)
        if generation is not None and current != generation:
            raise BlobNotFound(f"{self.url}/{name} generation {generation} is no longer current")
        reader = blob.open("rb", chunk_size=STREAM_CHUNK_BYTES, if_generation_match=current)
        try:
            yield reader
        except (NotFound, GcsPreconditionFailed):  # deleted or rewritten while it was being read
            raise BlobNotFound(f"{self.url}/{name} generation {current} is no longer current") from None
        finally:
            reader.close()

    def write(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> BlobInfo:
        blob = self._blob(name)
        blob.upload_from_string(data, content_type=content_type)
        return self._info(name, blob, len(data))

    def write_from(self, name: str, source: IO[bytes], content_type: str = "application/octet-stream") -> BlobInfo:
        blob = self._blob(name)
        blob.chunk_size = STREAM_CHUNK_BYTES
        blob.upload_from_file(source, content_type=content_type)
        return self._info(name, blob)

    def create_if_absent(self, name: str, data: bytes, content_type: str = "application/json") -> BlobInfo:
        blob = self._blob(name)
        try:
            blob.upload_from_string(data, content_type=content_type, if_generation_match=0)
        except GcsPreconditionFailed:
            raise PreconditionFailed(f"{self.url}/{name} already exists") from None
        return self._info(name, blob, len(data))

    def replace_if_generation(
        self, name: str, data: bytes, generation: int, content_type: str = "application/json"
    ) -> BlobInfo:
        blob = self._blob(name)
        try:
            blob.upload_from_string(data, content_type=content_type, if_generation_match=generation)
        except (GcsPreconditionFailed, NotFound):
            raise PreconditionFailed(f"{self.url}/{name} is no longer at generation {generation}") from None
        return self._info(name, blob, len(data))

    def delete_if_generation(self, name: str, generation: int) -> None:
        try:
            self._blob(name).delete(if_generation_match=generation)
        except (GcsPreconditionFailed, NotFound):
            raise PreconditionFailed(f"{self.url}/{name} is no longer at generation {generation}") from None

    def exists(self, name: str) -> bool:
        return cast(bool, self._blob(name).exists())

    def delete(self, name: str) -> None:
        with contextlib.suppress(NotFound):
            self._blob(name).delete()


def _client() -> Any:
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(
            project=gcp_project(os.environ) or LOCAL_PROJECT,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]  # google-auth leaves __init__ unannotated
        )
    return storage.Client()
