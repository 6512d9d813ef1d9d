"""Customers' media storage: local disk by default, S3-compatible for several machines (MEDIA_STORAGE=s3).

    storage = get_storage()
    key = media_key(shop.id, "123.jpg")      # "<shop id>/<safe name>"
    storage.put(key, data_or_file, "image/jpeg")
    with storage.open(key) as obj: ...       # streams; obj.size, iterate for chunks
    storage.url_for_download(key, timedelta(minutes=10))  # presigned URL on S3, None on disk
"""
from __future__ import annotations

from flask import current_app

from crm.storage.base import (
    InvalidKey,
    MediaNotFound,
    MediaStorage,
    StorageError,
    StoredObject,
    check_key,
    media_key,
)

__all__ = ["InvalidKey", "MediaNotFound", "MediaStorage", "StorageError", "StoredObject", "check_key",
           "get_storage", "media_key", "storage_from_config"]

BACKENDS = ("local", "s3")
_S3_KEYS = ("S3_BUCKET", "S3_ENDPOINT_URL", "S3_REGION", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_PREFIX",
            "S3_CONNECT_TIMEOUT", "S3_READ_TIMEOUT")


def storage_from_config(config) -> MediaStorage:
    """Build the backend the configuration names; StorageError (naming the variable) when it cannot."""
    kind = (config.get("MEDIA_STORAGE") or "local").strip().lower()
    if kind == "local":
        from crm.storage.local import LocalStorage  # beside s3's, which must stay lazy

        return LocalStorage(config["MEDIA_STORAGE_DIR"])
    if kind == "s3":
        # Lazy: boto3 (a large import) loads only in a process configured for S3.
        from crm.storage.s3 import S3Settings, S3Storage

        return S3Storage(S3Settings(
            bucket=config.get("S3_BUCKET"), endpoint_url=config.get("S3_ENDPOINT_URL"),
            region=config.get("S3_REGION"), access_key_id=config.get("S3_ACCESS_KEY_ID"),
            secret_access_key=config.get("S3_SECRET_ACCESS_KEY"), prefix=config.get("S3_PREFIX") or "",
            connect_timeout=float(config.get("S3_CONNECT_TIMEOUT") or 5),
            read_timeout=float(config.get("S3_READ_TIMEOUT") or 30),
        ))
    raise StorageError(f"MEDIA_STORAGE must be one of {', '.join(BACKENDS)}, not {kind!r}", "MEDIA_STORAGE")


def get_storage() -> MediaStorage:
    """The current app's media storage, built once per process for its settings (boto3 clients are thread-safe)."""
    config = current_app.config
    settings = (config.get("MEDIA_STORAGE"), config.get("MEDIA_STORAGE_DIR"), *(config.get(k) for k in _S3_KEYS))
    cache = current_app.extensions.setdefault("crm.media_storage", {})
    storage = cache.get(settings)
    if storage is None:
        storage = cache[settings] = storage_from_config(config)
    return storage
