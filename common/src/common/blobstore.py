"""Object storage behind one small interface: `file://` folders on one machine, `gs://` buckets on GCP.

Writes are atomic per object on both (a temporary file renamed into place; a single GCS upload), which is
what the data job's "manifest written last" commit relies on. The conditional writes (`create_if_absent`,
`replace_if_generation`, `delete_if_generation`) are compare-and-swap on the object's generation: GCS does
it server side (`ifGenerationMatch`), the file store under an exclusive `flock` on the object's folder, which
serialises every conditional writer on that machine. `gs://` is in `common.blobstore_gcs` and honours
`STORAGE_EMULATOR_HOST`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class BlobInfo:
    name: str  # relative to the store's root, with "/" separators
    generation: int  # changes whenever the object is rewritten
    size: int
    updated: float | None = None  # when it was last written, seconds since the epoch (the server's clock on GCS)


class BlobStore(Protocol):
    url: str

    def list(self, prefix: str = "") -> list[BlobInfo]: ...
    def read(self, name: str) -> bytes: ...
    def read_versioned(self, name: str) -> tuple[bytes, BlobInfo]: ...
    def open_read(self, name: str, generation: int | None = None) -> contextlib.AbstractContextManager[BinaryIO]: ...
    def write(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> BlobInfo: ...
    def write_from(self, name: str, source: IO[bytes], content_type: str = "application/octet-stream") -> BlobInfo: ...
    def create_if_absent(self, name: str, data: bytes, content_type: str = "application/json") -> BlobInfo: ...
    def replace_if_generation(
        self, name: str, data: bytes, generation: int, content_type: str = "application/json"
    ) -> BlobInfo: ...
    def delete_if_generation(self, name: str, generation: int) -> None: ...
    def exists(self, name: str) -> bool: ...
    def delete(self, name: str) -> None: ...


class BlobNotFound(FileNotFoundError):
    pass


class PreconditionFailed(RuntimeError):
    """A conditional write lost: the object exists (create) or is no longer at the given generation."""


class FileBlobStore:
    """A folder acting as a bucket. Object names may contain "/" (sub-folders are created as needed).

    An object's generation is its modification time in nanoseconds. Every write sets it from `time.time_ns()`
    (the kernel's own timestamps are only as fine as a clock tick, so two writes in one tick would look alike),
    and a conditional write moves it strictly forward.
    """

    def __init__(self, root: Path):
        self.root = root
        self.url = root.as_uri()
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"object name {name!r} escapes the bucket folder")
        return path

    def _info(self, name: str, stat: os.stat_result) -> BlobInfo:
        return BlobInfo(name, stat.st_mtime_ns, stat.st_size, stat.st_mtime_ns / 1e9)

    def list(self, prefix: str = "") -> list[BlobInfo]:
        out = []
        for dirpath, _dirs, files in os.walk(self.root):
            for filename in files:
                if filename.startswith(".tmp-"):
                    continue
                path = Path(dirpath) / filename
                name = path.relative_to(self.root).as_posix()
                if name.startswith(prefix):
                    with contextlib.suppress(FileNotFoundError):  # deleted while listing
                        out.append(self._info(name, path.stat()))
        return sorted(out, key=lambda b: b.name)

    def read(self, name: str) -> bytes:
        return self.read_versioned(name)[0]

    def read_versioned(self, name: str) -> tuple[bytes, BlobInfo]:
        """The content and the generation it belongs to (one open file: a rewrite in between cannot mix them)."""
        with self.open_read(name) as handle:
            return handle.read(), self._info(name, os.fstat(handle.fileno()))

    @contextlib.contextmanager
    def open_read(self, name: str, generation: int | None = None) -> Iterator[BinaryIO]:
        """The object as a binary file; with `generation`, `BlobNotFound` unless that generation is current."""
        try:
            handle = self._path(name).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(f"{self.url}/{name} does not exist") from None
        with handle:
            if generation is not None and os.fstat(handle.fileno()).st_mtime_ns != generation:
                raise BlobNotFound(f"{self.url}/{name} generation {generation} is no longer current")
            yield handle

    def _staged(self, path: Path, fill: Callable[[BinaryIO], object], mtime_ns: int | None = None) -> str:
        """A temporary file next to `path` holding the new content, synced, with its generation set."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                fill(handle)
                handle.flush()
                os.fsync(handle.fileno())
            stamp = time.time_ns() if mtime_ns is None else mtime_ns
            os.utime(tmp, ns=(stamp, stamp))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return tmp

    def _put(self, name: str, fill: Callable[[BinaryIO], object]) -> BlobInfo:
        path = self._path(name)
        tmp = self._staged(path, fill)
        try:
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self._info(name, path.stat())

    def write(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> BlobInfo:
        return self._put(name, lambda handle: handle.write(data))

    def write_from(self, name: str, source: IO[bytes], content_type: str = "application/octet-stream") -> BlobInfo:
        """Copy a binary stream into the object, a buffer at a time."""
        return self._put(name, lambda handle: shutil.copyfileobj(source, handle, 1024 * 1024))

    @contextlib.contextmanager
    def _folder_lock(self, path: Path) -> Iterator[None]:
        """Exclusive `flock` on the object's folder: one conditional writer at a time, across processes."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _current(self, path: Path) -> int | None:
        try:
            return path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def create_if_absent(self, name: str, data: bytes, content_type: str = "application/json") -> BlobInfo:
        path = self._path(name)
        with self._folder_lock(path):
            tmp = self._staged(path, lambda handle: handle.write(data))
            try:
                os.link(tmp, path)  # fails if the name exists, atomically, even against writers without the lock
            except FileExistsError:
                raise PreconditionFailed(f"{self.url}/{name} already exists") from None
            finally:
                Path(tmp).unlink(missing_ok=True)
            return self._info(name, path.stat())

    def replace_if_generation(
        self, name: str, data: bytes, generation: int, content_type: str = "application/json"
    ) -> BlobInfo:
        path = self._path(name)
        with self._folder_lock(path):
            current = self._current(path)
            if current != generation:
                raise PreconditionFailed(f"{self.url}/{name} is at generation {current}, not {generation}")
            tmp = self._staged(path, lambda handle: handle.write(data), max(time.time_ns(), generation + 1))
            os.replace(tmp, path)
            return self._info(name, path.stat())

    def delete_if_generation(self, name: str, generation: int) -> None:
        path = self._path(name)
        with self._folder_lock(path):
            current = self._current(path)
            if current != generation:
                raise PreconditionFailed(f"{self.url}/{name} is at generation {current}, not {generation}")
            path.unlink()

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


def open_store(url: str) -> BlobStore:
    """`file:///abs/path` or `gs://bucket[/prefix]`; anything else fails naming the URL."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FileBlobStore(Path(unquote(parsed.path)))
    if parsed.scheme == "gs" and parsed.netloc:
        from common.blobstore_gcs import GcsBlobStore  # google-cloud-storage only where gs:// is used

        return GcsBlobStore(parsed.netloc, parsed.path)
    raise ValueError(f"unsupported bucket URL {url!r}: use file:///path or gs://bucket[/prefix]")
