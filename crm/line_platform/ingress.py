"""LINE's webhook, answered in front of the Flask app: verify the signature, keep the body, answer 200.

LINE waits at most 2 seconds for an answer and delivers in bursts. Everything
that needs no answer (splitting, de-duplication, processing) happens in the
drain job, so the request does only what must happen before answering: check
the signature over the raw bytes, store the body durably, signal a worker.

The staff UI's per-request machinery (session cookie, login, CSRF, rate limits,
locale) cost more CPU than that work itself, and none of it applies to a
request LINE signs, so `WebhookIngress` takes these requests before Flask does.
With rq it does not touch Redis either: the workers watch for kept deliveries.
The URL is still built with ``url_for("line_platform.webhook", key=...)``: the
blueprint registers it as a build-only rule.

Being in front of Flask, it is outside the one-commit-per-request hook
(crm/transactions.py runs in Flask's after_request): `store_delivery` commits the
kept delivery itself, and `_answer` is called only after that commit returned,
so LINE never gets its 200 for a body that is not durable.
"""
import json
import logging
from http import HTTPStatus

from flask import current_app

from crm import jobs
from crm.line_platform import deliveries as ingestion
from crm.line_platform.drain import DRAIN_FLAG, drain_events

log = logging.getLogger(__name__)

PREFIX = "/line/webhook/"


class WebhookIngress:
    """WSGI middleware: POST /line/webhook/<key> is answered here; every other request goes to the app."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.wsgi_app(environ, start_response)
        key = path[len(PREFIX):]
        if not key or "/" in key:
            return self.wsgi_app(environ, start_response)  # not a webhook URL: the app's 404
        if environ.get("REQUEST_METHOD") != "POST":
            return _answer(start_response, 405, {"message": "method not allowed"}, [("Allow", "POST")])
        with self.app.app_context():
            try:
                status, payload = receive(key, environ)
            except Exception:  # LINE redelivers what was not answered 200 (redeliveries are stored once)
                log.exception("webhook for %s failed", key[:6])
                jobs.rollback()
                status, payload = 500, {"message": "internal error"}
        return _answer(start_response, status, payload)


def receive(key, environ):
    """Handle one webhook request (its WSGI environ); returns (HTTP status, JSON payload)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:  # LINE always sends Content-Length
        return 411, {"message": "Content-Length required"}
    if length > ingestion.max_bytes():
        return 413, {"message": "body too large"}
    known = ingestion.channel_secret(key)
    if known is None:
        return 404, {"message": "unknown webhook"}
    body = environ["wsgi.input"].read(length)
    if len(body) != length:
        return 400, {"message": "incomplete body"}
    signature = environ.get("HTTP_X_LINE_SIGNATURE")
    fresh = False
    if not ingestion.signature_is_valid(known[1], body, signature):
        # The owner may just have changed the secret: look it up once more.
        known, fresh = ingestion.channel_secret(key, fresh=True), True
        if known is None or not ingestion.signature_is_valid(known[1], body, signature):
            return _refused(key)
    try:
        events = ingestion.parse_body(body)
    except ingestion.BadWebhook as exc:
        return 400, {"message": str(exc)}
    if not events:  # LINE's "verify" button: nothing to store, but an old secret must not pass it
        if not fresh:
            known = ingestion.channel_secret(key, fresh=True)
            if known is None:
                return 404, {"message": "unknown webhook"}
            if not ingestion.signature_is_valid(known[1], body, signature):
                return _refused(key)
        return 200, {}
    # Stored only if the secret verified with is still current (no extra round trip);
    # otherwise it was a cached secret since replaced: verify with the stored one.
    while ingestion.store_delivery(known[0], body, key, known[2]) is None:  # committed
        if fresh:  # the secret changed again since it was just read: LINE redelivers
            return 409, {"message": "channel changed, retry"}
        known, fresh = ingestion.channel_secret(key, fresh=True), True
        if known is None:
            return 404, {"message": "unknown webhook"}
        if not ingestion.signature_is_valid(known[1], body, signature):
            return _refused(key)
    if current_app.config["JOBS_MODE"] != "rq":
        # In-process jobs: drain now. With rq, the workers' watchers find the delivery
        # (crm.line_platform.watcher), so this request asks nothing of Redis.
        jobs.request_drain(DRAIN_FLAG, drain_events)
    return 200, {}


def _refused(key):
    log.warning("webhook for %s refused: bad signature", key[:6])
    return 400, {"message": "invalid signature"}


def _answer(start_response, status, payload, headers=()):
    body = json.dumps(payload).encode()
    start_response(f"{status} {HTTPStatus(status).phrase}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers])
    return [body]
