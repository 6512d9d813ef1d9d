"""Plumbing shared by every LINE-platform endpoint the sandbox serves.

For each request to a LINE path (``/v2/...``, ``/oauth2/...``,
``/friendship/...``) the hooks here:

1. consume a queued fault (``POST /_sandbox/faults``): sleep ``delay_seconds``,
   then answer the fault's status without touching the world; a fault with a
   delay and no status only slows the request down, which is how a client-side
   timeout on an *applied* request is simulated;
2. authenticate Messaging API calls by their Bearer channel access token;
3. log the call for ``GET /_sandbox/channels/<id>/requests`` and stamp
   Messaging API responses with ``x-line-request-id`` as LINE does.

Errors are raised as ``LineError`` and rendered as LINE renders them:
``{"message": ..., "details": [...]}``.
"""
from __future__ import annotations

import json
import time
import uuid

from flask import current_app, g, jsonify, request

LINE_PREFIXES = ("/v2/", "/oauth2/", "/friendship/")
AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."
UNKNOWN_CHANNEL = "_unknown"
_FAULT_MESSAGES = {
    400: "Bad Request",
    401: AUTH_FAILED,
    403: "Access to this API is not available for your account",
    404: "Not found",
    409: "Conflict",
    429: "The API rate limit has been exceeded. Try again later.",
    500: "An error occurred in the server.",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_LOGGED_HEADERS = ("Content-Type", "X-Line-Retry-Key", "Authorization")
# LINE's per-channel rate limits (requests a second) of the sending endpoints; a channel's
# "rate_limit" (control API) overrides the push one, "multicast_rate_limit" the multicast one.
RATE_LIMITS = {"/v2/bot/message/push": ("rate_limit", 2000), "/v2/bot/message/multicast": ("multicast_rate_limit", 200)}
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
_REDACTED_FIELDS = ("client_secret", "channel_secret", "password")


class LineError(Exception):
    """An error answered the way LINE answers it."""

    def __init__(self, status: int, message: str, details: list | None = None,
                 headers: dict | None = None, **extra):
        super().__init__(message)
        self.status, self.message, self.details = status, message, details
        self.headers, self.extra = headers or {}, extra

    def response(self):
        body = {"message": self.message, **self.extra}
        if self.details is not None:
            body["details"] = self.details
        response = jsonify(body)
        response.status_code = self.status
        response.headers.update(self.headers)
        return response


def sandbox():
    """The running sandbox (state, spec validator) of the current app."""
    return current_app.extensions["line_sandbox"]


def is_line_path(path: str) -> bool:
    return path.startswith(LINE_PREFIXES)


def json_body():
    """The request's JSON body, or a LINE-style 400."""
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise LineError(400, "The request body has 1 error(s)",
                        [{"message": "The request body is not valid JSON", "property": ""}]) from None


def validate_body(body, extra_details: list | None = None) -> None:
    """Check the body against the operation's request schema in messaging-api.yml."""
    details = sandbox().messaging_spec.request_errors(request.method, request.path, body)
    details += extra_details or []
    if details:
        raise LineError(400, f"The request body has {len(details)} error(s)", details)


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _fault_response(fault: dict):
    status = int(fault["status"])
    body = fault.get("body") or {"message": _FAULT_MESSAGES.get(status, "Error")}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(fault.get("headers") or {})
    return response


def _logged_body():
    raw = request.get_data(cache=True)
    if not raw:
        return request.form.to_dict() if request.form else None
    if request.mimetype == "application/x-www-form-urlencoded":
        return {k: ("***" if k in _REDACTED_FIELDS else v) for k, v in request.form.items()}
    try:
        return json.loads(raw)
    except ValueError:
        return {"bytes": len(raw), "content_type": request.mimetype}


def _logged_headers() -> dict:
    headers = {}
    for name in _LOGGED_HEADERS:
        value = request.headers.get(name)
        if value is not None:
            headers[name] = "Bearer ***" if name == "Authorization" else value
    return headers


def register(app) -> None:
    """Install the fault, authentication and logging hooks on the app."""

    @app.errorhandler(LineError)
    def _line_error(error: LineError):
        return error.response()

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _not_found(error):
        if is_line_path(request.path):  # LINE answers JSON, never an HTML page
            return LineError(error.code, "Not found" if error.code == 404 else "Method Not Allowed").response()
        return error

    @app.before_request
    def _before():
        if not is_line_path(request.path):
            return None
        g.request_id = str(uuid.uuid4())
        g.log_channel = UNKNOWN_CHANNEL
        state = sandbox().state
        if request.path.startswith("/v2/bot/"):
            with state.read():
                channel = state.channel_for_token(_bearer_token())
                g.channel_id = channel["channel_id"] if channel else None
            if channel:
                g.log_channel = g.channel_id
        fault = state.take_fault(request.method, request.path)
        if fault:
            g.fault = fault
            if fault.get("delay_seconds"):
                time.sleep(float(fault["delay_seconds"]))
            if fault.get("status"):
                return _fault_response(fault)
        if request.path.startswith("/v2/bot/") and not g.channel_id:
            raise LineError(401, AUTH_FAILED)
        limit = RATE_LIMITS.get(request.path)
        if limit and request.method == "POST" and not state.within_rate(
                g.channel_id, request.path, channel.get(limit[0]) or limit[1]):
            raise LineError(429, RATE_LIMITED)
        return None

    @app.after_request
    def _after(response):
        if not is_line_path(request.path) or "request_id" not in g:
            return response
        if request.path.startswith("/v2/bot/"):
            response.headers.setdefault("x-line-request-id", g.request_id)
        entry = {"method": request.method, "path": request.path, "query": request.query_string.decode(),
                 "status": response.status_code, "body": _logged_body(), "headers": _logged_headers(),
                 "request_id": g.request_id, "at": time.time(), "fault": "fault" in g}
        state = sandbox().state
        with state.read():
            state.log_request(g.get("log_channel", UNKNOWN_CHANNEL), entry)
        return response
