"""Media on this machine's disk (MEDIA_STORAGE_DIR): ``<dir>/<shop id>/<name>``, as it always was."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from crm.storage.base import (
    CHUNK_SIZE,
    MediaNotFound,
    MediaStorage,
    StorageError,
    StoredObject,
    check_key,
)


class LocalStorage(MediaStorage):
    """Files under one directory; writes go to a temporary file that os.replace() puts in place."""

    name = "local"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = self.root / check_key(key)
        # check_key already refuses separators and "..": this is the belt to its braces.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise StorageError(f"media key {key!r} leaves MEDIA_STORAGE_DIR", "MEDIA_STORAGE_DIR")
        return path

    def _unusable(self, exc: OSError) -> StorageError:
        return StorageError(
            f"MEDIA_STORAGE_DIR {self.root} cannot be used ({exc.strerror or exc}): check MEDIA_STORAGE_DIR",
            "MEDIA_STORAGE_DIR",
        )

    def put(self, key: str, data: bytes | BinaryIO, content_type: str | None = None) -> int:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".partial-", suffix=path.suffix)
        except OSError as exc:
            raise self._unusable(exc) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                chunks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else iter(
                    lambda: data.read(CHUNK_SIZE), b"")
                for chunk in chunks:  # an error reading the source is the source's, not the disk's
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise self._unusable(exc) from exc
                try:
                    out.flush()
                    os.fsync(out.fileno())
                    os.chmod(partial, 0o644)  # mkstemp makes 0600; the web server may run as another user
                    os.replace(partial, path)
                except OSError as exc:
                    raise self._unusable(exc) from exc
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return path.stat().st_size

    def open(self, key: str, start: int = 0, end: int | None = None) -> StoredObject:
        path = self._path(key)
        try:
            stream = path.open("rb")
        except FileNotFoundError as exc:
            raise MediaNotFound(f"no media at {key}") from exc
        size = os.fstat(stream.fileno()).st_size
        last = size - 1 if end is None else min(end, size - 1)
        stream.seek(start)
        return StoredObject(stream, size=size, content_length=max(0, last - start + 1), start=start)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise MediaNotFound(f"no media at {key}") from exc

    def local_path(self, key: str) -> Path:
        return self._path(key)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".check-"):
                pass
        except OSError as exc:
            raise self._unusable(exc) from exc
