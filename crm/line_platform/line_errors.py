"""LINE's answers, read once: what is worth retrying, what certainly never reached LINE, and why a call failed.

The send pipeline, the profile fetch and the staff notification channel all
ask these questions; the rules live here only.
"""
from linebot.v3.messaging import ApiException
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.exceptions import HTTPError as Urllib3Error


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: no answer, 429 (rate limit) or a 5xx from LINE, or a network error."""
    if isinstance(exc, ApiException):
        return exc.status is None or exc.status == 429 or exc.status >= 500
    return isinstance(exc, (Urllib3Error, OSError))


def never_sent(exc: BaseException) -> bool:
    """True when the request certainly did not reach LINE (the connection was never made)."""
    cause: BaseException | None = exc.reason if isinstance(exc, MaxRetryError) else exc
    return isinstance(cause, (NewConnectionError, ConnectTimeoutError, ConnectionRefusedError))


def request_id(headers: dict | None) -> str | None:
    """LINE's request id of an answer (x-line-request-id, or x-line-accepted-request-id of a 409)."""
    headers = headers or {}
    return headers.get("x-line-request-id") or headers.get("x-line-accepted-request-id")
