"""Webhook events: building them as LINE does, signing and delivering them.

Events are shaped like the official SDK's samples (webhook-samples.json) and
LINE's webhook.yml: ``type``, ``mode``, ``timestamp`` (ms), ``source``,
``webhookEventId`` (a 26-character ULID), ``deliveryContext`` and, for the
events a bot may answer, a ``replyToken``.  The request body is signed with
``base64(HMAC-SHA256(channel secret, body bytes))`` in ``X-Line-Signature``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time

import requests

from .state import now_ms

WEBHOOK_TIMEOUT_SECONDS = 10
USER_AGENT = "LineBotWebhook/2.0"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# Events LINE sends with a reply token (in active mode).
REPLYABLE = {"message", "follow", "postback", "join", "memberJoined", "beacon", "accountLink",
             "videoPlayComplete", "messageEdited"}
# Message types that carry a quoteToken; media types get a contentProvider.
QUOTABLE = {"text", "sticker", "image", "video"}
MEDIA = {"image", "video", "audio"}


class EventError(ValueError):
    """The control request does not describe an event the sandbox can build."""


def ulid(timestamp_ms: int | None = None) -> str:
    """A ULID: 48-bit millisecond time + 80 random bits in Crockford base32."""
    value = ((timestamp_ms if timestamp_ms is not None else now_ms()) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_reply_token() -> str:
    return secrets.token_hex(16)


def sign(channel_secret: str, body: bytes) -> str:
    """The X-Line-Signature of a body: base64(HMAC-SHA256(secret, body))."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def encode_body(destination: str, events: list) -> bytes:
    """The webhook body as LINE sends it: compact JSON, UTF-8 unescaped."""
    payload = {"destination": destination, "events": events}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _message_content(spec: dict, message_id: str) -> dict:
    """The ``message`` object of a message event from a control request's spec."""
    kind = spec.get("type")
    message = {"id": message_id, "type": kind}
    if kind == "text":
        if not isinstance(spec.get("text"), str) or not spec["text"]:
            raise EventError("a text message needs a non-empty 'text'")
        message["text"] = spec["text"]
        for optional in ("emojis", "mention", "quotedMessageId"):
            if optional in spec:
                message[optional] = spec[optional]
    elif kind == "sticker":
        if not spec.get("packageId") or not spec.get("stickerId"):
            raise EventError("a sticker needs 'packageId' and 'stickerId'")
        message.update(packageId=str(spec["packageId"]), stickerId=str(spec["stickerId"]),
                       stickerResourceType=spec.get("stickerResourceType", "STATIC"))
        for optional in ("keywords", "text"):
            if optional in spec:
                message[optional] = spec[optional]
    elif kind in MEDIA:
        message["contentProvider"] = {"type": "line"}
        if kind in ("video", "audio"):
            message["duration"] = int(spec.get("duration", 10000))
        if "imageSet" in spec:
            message["imageSet"] = spec["imageSet"]
    elif kind == "file":
        if not spec.get("fileName"):
            raise EventError("a file needs 'fileName'")
        message.update(fileName=spec["fileName"], fileSize=int(spec.get("fileSize", 0)))
    elif kind == "location":
        try:
            message.update(latitude=float(spec["latitude"]), longitude=float(spec["longitude"]))
        except (KeyError, TypeError, ValueError):
            raise EventError("a location needs numeric 'latitude' and 'longitude'") from None
        for optional in ("title", "address"):
            if spec.get(optional):
                message[optional] = spec[optional]
    else:
        raise EventError(f"unknown message type {kind!r}")
    if kind in QUOTABLE:
        message["quoteToken"] = secrets.token_urlsafe(48)
    message["markAsReadToken"] = secrets.token_urlsafe(24)
    return message


def build_event(spec: dict, user_id: str, *, message_id: str | None = None,
                follow_unblocked: bool = False) -> dict:
    """A webhook event for a user's action described by a control request.

    ``spec`` is the control API body: {"type": "follow"} / {"type": "message",
    "message": {...}} / {"type": "postback", "data": ...} / ...; the optional
    keys "mode", "redelivery", "webhook_event_id" and "timestamp" override
    the defaults.  The reply token, when the event has one, is a fresh token
    the caller must record.
    """
    kind = spec.get("type")
    mode = spec.get("mode", "active")
    if mode not in ("active", "standby"):
        raise EventError("mode must be 'active' or 'standby'")
    timestamp = int(spec.get("timestamp") or now_ms())
    event = {"type": kind, "mode": mode, "timestamp": timestamp,
             "source": {"type": "user", "userId": user_id},
             "webhookEventId": spec.get("webhook_event_id") or ulid(timestamp),
             "deliveryContext": {"isRedelivery": bool(spec.get("redelivery", False))}}
    if kind == "message":
        event["message"] = _message_content(spec.get("message") or {}, message_id)
    elif kind == "messageEdited":
        edited = dict(spec.get("message") or {})
        if not edited.get("id"):
            raise EventError("messageEdited needs message.id (the edited message)")
        event["message"] = _message_content(edited, edited["id"])
    elif kind == "follow":
        event["follow"] = {"isUnblocked": follow_unblocked}
    elif kind == "unfollow":
        pass
    elif kind == "postback":
        if not isinstance(spec.get("data"), str):
            raise EventError("a postback needs 'data'")
        event["postback"] = {"data": spec["data"]}
        if spec.get("params"):
            event["postback"]["params"] = spec["params"]
    elif kind == "unsend":
        if not spec.get("messageId"):
            raise EventError("unsend needs 'messageId'")
        event["unsend"] = {"messageId": str(spec["messageId"])}
    else:
        raise EventError(f"unsupported event type {kind!r}")
    if kind in REPLYABLE and mode == "active":
        event = {"replyToken": new_reply_token(), **event}
    return event


def deliver(url: str | None, body: bytes, signature: str, timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> dict:
    """POST a signed body to a webhook URL; the outcome as {status_code, elapsed_ms, ...}."""
    if not url:
        return {"status_code": None, "elapsed_ms": 0, "error": "no webhook URL is set"}
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Line-Signature": signature,
               "User-Agent": USER_AGENT}
    started = time.monotonic()
    try:
        response = requests.post(url, data=body, headers=headers, timeout=timeout)
    except requests.Timeout:
        return {"status_code": None, "elapsed_ms": _since(started), "error": "timeout", "reason": "REQUEST_TIMEOUT"}
    except requests.RequestException as exc:
        return {"status_code": None, "elapsed_ms": _since(started), "error": str(exc), "reason": "COULD_NOT_CONNECT"}
    with response:
        return {"status_code": response.status_code, "elapsed_ms": _since(started)}


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
