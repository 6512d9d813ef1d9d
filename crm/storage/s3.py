"""Media in an S3-compatible bucket (AWS S3, MinIO, R2, ...) through boto3, for web and workers on several machines."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from crm.storage.base import (
    MediaNotFound,
    MediaStorage,
    StorageError,
    StoredObject,
    check_key,
)

CHECK_KEY = ".crm-check-storage"
MAX_PRESIGN = timedelta(days=7)  # SigV4's limit


@dataclass(frozen=True)
class S3Settings:
    """The S3_* settings (crm/config.py reads them from the environment)."""

    bucket: str | None
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    prefix: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


class S3Storage(MediaStorage):
    """Objects ``<S3_PREFIX><shop id>/<name>`` in S3_BUCKET; large uploads are multipart, reads stream."""

    name = "s3"

    def __init__(self, settings: S3Settings):
        if not settings.bucket:
            raise StorageError("MEDIA_STORAGE=s3 needs a bucket: set S3_BUCKET", "S3_BUCKET")
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.prefix.strip("/") + "/" if settings.prefix.strip("/") else ""
        config = BotoConfig(
            region_name=settings.region or "us-east-1",
            signature_version="s3v4",
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            retries={"max_attempts": 3, "mode": "standard"},
            # Path-style URLs work with every S3-compatible server; virtual hosts need DNS for each bucket.
            s3={"addressing_style": "path" if settings.endpoint_url else "auto"},
        )
        try:
            self.client = boto3.session.Session().client(
                "s3",
                endpoint_url=settings.endpoint_url or None,
                aws_access_key_id=settings.access_key_id or None,
                aws_secret_access_key=settings.secret_access_key or None,
                config=config,
            )
        except ValueError as exc:  # a malformed endpoint URL
            raise StorageError(f"S3 endpoint {settings.endpoint_url!r} is not a URL: check S3_ENDPOINT_URL",
                               "S3_ENDPOINT_URL") from exc
        # One thread: a worker uploads one file at a time, parts of 8 MB, never the whole file in memory.
        self.transfer = TransferConfig(use_threads=False)

    # -- errors -------------------------------------------------------------------------
    def _error(self, exc: Exception, key: str | None = None) -> StorageError:
        """Translate boto's exception into one line naming the setting to fix."""
        endpoint = self.settings.endpoint_url or "AWS S3"
        if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
            return StorageError(f"S3 endpoint {endpoint} is unreachable: check S3_ENDPOINT_URL", "S3_ENDPOINT_URL")
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return StorageError("no S3 credentials: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY",
                                "S3_ACCESS_KEY_ID")
        if isinstance(exc, ParamValidationError):
            return StorageError(f"S3 bucket name {self.bucket!r} is not valid: check S3_BUCKET", "S3_BUCKET")
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket" or (code in ("404", "NotFound") and key is None):
                return StorageError(f"S3 bucket {self.bucket!r} does not exist at {endpoint}: check S3_BUCKET",
                                    "S3_BUCKET")
            if code in ("NoSuchKey", "404", "NotFound"):
                return MediaNotFound(f"no media at {key}")
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "AccessDenied",
                        "403", "Forbidden") or status == 403:
                return StorageError(f"S3 refused the credentials for bucket {self.bucket!r} ({code}): "
                                    "check S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY", "S3_ACCESS_KEY_ID")
            if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"):
                return StorageError(f"S3 bucket {self.bucket!r} is in another region ({code}): check S3_REGION",
                                    "S3_REGION")
            message = " ".join(str(error.get("Message") or code).split())
            return StorageError(f"S3 error {code} ({message}) at {endpoint}: check S3_ENDPOINT_URL and S3_BUCKET",
                                "S3_ENDPOINT_URL")
        if isinstance(exc, BotoCoreError):
            message = " ".join(str(exc).split())
            return StorageError(f"S3 at {endpoint} failed ({message}): check S3_ENDPOINT_URL", "S3_ENDPOINT_URL")
        raise exc

    def _object(self, key: str) -> str:
        return self.prefix + check_key(key)

    # -- the interface ------------------------------------------------------------------
    def put(self, key: str, data: bytes | BinaryIO, content_type: str | None = None) -> int:
        name = self._object(key)
        extra = {"ContentType": content_type} if content_type else {}
        try:
            if isinstance(data, (bytes, bytearray, memoryview)):
                self.client.put_object(Bucket=self.bucket, Key=name, Body=bytes(data), **extra)
                return len(data)
            # upload_fileobj wraps client errors in S3UploadFailedError; a plain
            # client call per part would be the same code again, so unwrap its cause.
            self.client.upload_fileobj(data, self.bucket, name, ExtraArgs=extra, Config=self.transfer)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, key) from exc
        except Exception as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, (BotoCoreError, ClientError)):
                raise self._error(cause, key) from exc
            raise
        return self.size(key)

    def open(self, key: str, start: int = 0, end: int | None = None) -> StoredObject:
        params = {"Bucket": self.bucket, "Key": self._object(key)}
        if start or end is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            response = self.client.get_object(**params)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, key) from exc
        length = response["ContentLength"]
        size = length
        content_range = response.get("ContentRange")  # "bytes 0-9/1234"
        if content_range and "/" in content_range:
            size = int(content_range.rsplit("/", 1)[1])
        return StoredObject(response["Body"], size=size, content_length=length,
                            content_type=response.get("ContentType"), start=start)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._object(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, key) from exc

    def _head(self, key: str) -> dict:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, key) from exc

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except MediaNotFound:
            return False
        return True

    def size(self, key: str) -> int:
        return self._head(key)["ContentLength"]

    def url_for_download(self, key: str, expires: timedelta, content_type: str | None = None,
                         filename: str | None = None) -> str:
        """A presigned GET URL (signed locally: no request to S3), valid for ``expires`` (at most 7 days)."""
        seconds = int(min(expires, MAX_PRESIGN).total_seconds())
        if seconds <= 0:
            raise ValueError("expires must be positive")
        params = {"Bucket": self.bucket, "Key": self._object(key)}
        if content_type:
            params["ResponseContentType"] = content_type
        if filename:
            params["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        try:
            return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, key) from exc

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc) from exc
        probe = self.prefix + CHECK_KEY
        try:
            self.client.upload_fileobj(io.BytesIO(b"ok"), self.bucket, probe, Config=self.transfer)
            self.client.delete_object(Bucket=self.bucket, Key=probe)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc) from exc
        except Exception as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, (BotoCoreError, ClientError)):
                raise self._error(cause) from exc
            raise
