"""Serving a stored object to a signed-in user: streamed by this app, byte ranges included.

Why stream rather than redirect to a presigned URL: the media route keeps every
check and header of its own (sign-in, tenant, premium, ``nosniff``,
``Cache-Control: private``) on every response; a redirect would hand the
browser a bearer URL that works for anyone until it expires, ends up in
history and proxies, cannot carry ``nosniff``, and needs the S3 endpoint to be
reachable from the browser (often it is an internal MinIO).  Streaming costs a
worker thread per transfer, in chunks, never the whole object in memory.
Presigned URLs remain for parties that cannot sign in (LINE fetching images
staff send): ``MediaStorage.url_for_download``.
"""
from __future__ import annotations

import logging
import unicodedata
from urllib.parse import quote

from flask import Response, abort, request, send_file

from crm.storage.base import MediaNotFound, MediaStorage, StorageError

log = logging.getLogger(__name__)


def _private(response: Response) -> Response:
    # Never in a shared cache, and the browser asks again (a 304 from disk), so a
    # signed-out tablet does not show a customer's photo from its cache.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _disposition(response: Response, as_attachment: bool, download_name: str | None) -> None:
    if not as_attachment and not download_name:
        return
    names = {}
    if download_name:
        try:
            download_name.encode("ascii")
            names = {"filename": download_name}
        except UnicodeEncodeError:  # RFC 6266: an ASCII fallback, and the UTF-8 name
            simple = unicodedata.normalize("NFKD", download_name).encode("ascii", "ignore").decode("ascii")
            names = {"filename": simple or "download", "filename*": f"UTF-8''{quote(download_name, safe='')}"}
    response.headers.set("Content-Disposition", "attachment" if as_attachment else "inline", **names)


def send_media(storage: MediaStorage, key: str, mimetype: str | None, as_attachment: bool = False,
               download_name: str | None = None) -> Response:
    """The object as a response: from disk by the web server's file handling, else streamed; 404 if absent."""
    mimetype = mimetype or "application/octet-stream"
    try:
        path = storage.local_path(key)
        if path is not None:
            if not path.is_file():
                abort(404)
            response = send_file(path, mimetype=mimetype, as_attachment=as_attachment, download_name=download_name,
                                 conditional=True)
            return _private(response)
        return _private(_stream(storage, key, mimetype, as_attachment, download_name))
    except MediaNotFound:
        abort(404)
    except StorageError as exc:
        log.error("media %s not served: %s", key, exc)
        abort(503)


def _stream(storage, key, mimetype, as_attachment, download_name) -> Response:
    size = storage.size(key)
    status, start, end = 200, 0, None
    if request.range is not None:
        span = request.range.range_for_length(size) if request.range.units == "bytes" else None
        if span is None:
            response = Response(status=416)
            response.headers["Content-Range"] = f"bytes */{size}"
            return response
        status, (start, stop) = 206, span
        end = stop - 1
    stored = storage.open(key, start, end)
    response = Response(iter(stored), status=status, mimetype=mimetype, direct_passthrough=True)
    response.content_length = stored.content_length
    response.headers["Accept-Ranges"] = "bytes"
    if status == 206:
        response.headers["Content-Range"] = f"bytes {start}-{start + stored.content_length - 1}/{stored.size}"
    _disposition(response, as_attachment, download_name)
    return response
