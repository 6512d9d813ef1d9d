"""The one interface for customers' media, its keys and its errors; the backends are local.py and s3.py."""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import BinaryIO

CHUNK_SIZE = 256 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class StorageError(Exception):
    """Media storage is unusable; the message names the setting to fix (``variable``)."""

    def __init__(self, message: str, variable: str | None = None):
        super().__init__(message)
        self.variable = variable


class MediaNotFound(StorageError):
    """No object under that key."""


class InvalidKey(StorageError, ValueError):
    """A key that is not of the form ``<shop id>/<safe name>``."""


def media_key(shop_id: int, name: str) -> str:
    """The storage key of a shop's file: ``<shop id>/<name>``, the name reduced to safe characters.

    The same layout as the files MEDIA_STORAGE_DIR has always held, so existing
    rows' media_path is their key.
    """
    if isinstance(shop_id, bool) or not isinstance(shop_id, int) or shop_id <= 0:
        raise InvalidKey(f"shop id must be a positive integer, not {shop_id!r}")
    safe = _SAFE_NAME.sub("_", str(name)).lstrip("._-")[:200]
    if not safe:
        raise InvalidKey(f"no usable file name in {name!r}")
    return f"{shop_id}/{safe}"


def check_key(key: str, shop_id: int | None = None) -> str:
    """Return ``key`` if it is a well-formed tenant key (of ``shop_id`` when given), else raise InvalidKey."""
    parts = key.split("/") if isinstance(key, str) else []
    if len(parts) != 2 or not parts[0].isdigit() or not _KEY_PART.match(parts[1]) or ".." in parts[1]:
        raise InvalidKey(f"not a media key: {key!r}")
    if shop_id is not None and int(parts[0]) != shop_id:
        raise InvalidKey(f"key {key!r} is not of shop {shop_id}")
    return key


@dataclass
class StoredObject:
    """An open stored object (or a byte range of it): iterate for chunks, then close."""

    stream: BinaryIO
    size: int  # of the whole object
    content_length: int  # of what `stream` yields
    content_type: str | None = None
    start: int = 0
    chunk_size: int = field(default=CHUNK_SIZE, repr=False)

    def __iter__(self) -> Iterator[bytes]:
        try:
            remaining = self.content_length
            while remaining > 0:
                chunk = self.stream.read(min(self.chunk_size, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
        finally:
            self.close()

    def read(self) -> bytes:
        """Everything that is left (small objects only)."""
        try:
            return self.stream.read()
        finally:
            self.close()

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> StoredObject:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class MediaStorage(ABC):
    """Where customers' media lives; keys come from media_key()."""

    name: str

    @abstractmethod
    def put(self, key: str, data: bytes | BinaryIO, content_type: str | None = None) -> int:
        """Store ``data`` (bytes or a readable binary file) under ``key``, replacing it atomically; returns its size."""

    @abstractmethod
    def open(self, key: str, start: int = 0, end: int | None = None) -> StoredObject:
        """Open the object for streaming, optionally bytes ``start``..``end`` (inclusive); MediaNotFound if absent."""

    def get(self, key: str) -> bytes:
        """The whole object in memory (small objects only)."""
        return self.open(key).read()

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; absent already is fine."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abstractmethod
    def size(self, key: str) -> int:
        """The object's size in bytes; MediaNotFound if absent."""

    def url_for_download(self, key: str, expires: timedelta, content_type: str | None = None,
                         filename: str | None = None) -> str | None:
        """A signed URL anyone may GET until ``expires`` from now (e.g. LINE fetching an image), or None if the backend has none."""
        return None

    def local_path(self, key: str):
        """The file on this machine's disk, when the backend has one (the web server serves it with ranges)."""
        return None

    @abstractmethod
    def check(self) -> None:
        """Raise StorageError naming the variable to fix unless objects can be written, read and deleted."""
