"""Calling LINE for broadcasts: retries with backoff on 429 and 5xx, pacing under the rate limit, sending threads.

The sending threads keep one open SDK client per thread and channel token, so
connections stay open from batch to batch.
"""
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app
from flask_babel import gettext as _
from linebot.v3.messaging import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from crm.broadcasts.models import RecipientStatus
from crm.line_platform.channels import line_error_reason
from crm.line_platform.client import LineApis, line_apis

_sleep = time.sleep  # between retries (tests replace it)
NOT_A_FRIEND = "Failed to send messages"  # LINE's 400 for a push to someone who blocked the account


class Pacer:
    """A token bucket: at most `rate` calls a second from this process (thread-safe)."""

    def __init__(self, rate: float):
        self.rate, self.lock = rate, threading.Lock()
        self.next_at = time.monotonic()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            at = max(self.next_at, now)
            self.next_at = at + 1.0 / self.rate
        if at > now:
            time.sleep(at - now)


_pacers: dict[float, Pacer] = {}
_pool: ThreadPoolExecutor | None = None
_local = threading.local()


def pacer() -> Pacer:
    rate = float(current_app.config["BROADCAST_PUSH_RATE"])
    if rate not in _pacers:
        _pacers[rate] = Pacer(rate)
    return _pacers[rate]


def threads() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=int(current_app.config["BROADCAST_PUSH_THREADS"]),
                                   thread_name_prefix="crm-broadcast")
    return _pool


def thread_apis(app: Flask, token: str) -> LineApis:
    """This thread's open SDK client for the token (connections stay open between batches)."""
    clients = getattr(_local, "clients", None)
    if clients is None:
        clients = _local.clients = {}
    if token not in clients:
        with app.app_context():
            opened = line_apis(token)
            clients[token] = opened.__enter__()
    return clients[token]


def _transient(exc: Exception) -> bool:
    if isinstance(exc, ApiException):
        if exc.status == 429:
            return "monthly limit" not in (exc.body or "")  # the quota is spent: waiting will not help
        return exc.status is None or exc.status >= 500
    return isinstance(exc, (Urllib3Error, OSError))


def _backoff(exc: Exception, attempt: int) -> float:
    headers = getattr(exc, "headers", None) or {}
    retry_after = headers.get("Retry-After") or headers.get("retry-after")
    if retry_after:
        try:
            return min(60.0, float(retry_after))
        except ValueError:
            pass
    base = float(current_app.config["BROADCAST_RETRY_WAIT"])
    return min(30.0, base * 2 ** attempt) * (0.5 + random.random())


def call(send: Callable[[], Any]) -> tuple[RecipientStatus, str | None, str | None]:
    """One LINE call with its retries: (status, failure reason, request id)."""
    attempts = int(current_app.config["BROADCAST_ATTEMPTS"])
    for attempt in range(attempts):
        try:
            response = send()
            return RecipientStatus.SENT, None, (response.headers or {}).get("x-line-request-id")
        except ApiException as exc:
            if exc.status == 409:  # this retry key was accepted before: it was delivered
                return RecipientStatus.SENT, None, (exc.headers or {}).get("x-line-accepted-request-id")
            if exc.status == 400 and NOT_A_FRIEND in (exc.body or ""):
                return RecipientStatus.BLOCKED, line_error_reason(exc), None
            if not _transient(exc) or attempt == attempts - 1:
                return RecipientStatus.FAILED, line_error_reason(exc), None
            _sleep(_backoff(exc, attempt))
        except (Urllib3Error, OSError) as exc:
            if attempt == attempts - 1:
                return RecipientStatus.FAILED, _("LINEに接続できませんでした: %(reason)s", reason=str(exc)), None
            _sleep(_backoff(exc, attempt))
    return RecipientStatus.FAILED, None, None  # not reached


