"""What happens when a LINE user acts: the world changes, then a webhook goes out.

``send_user_event`` is shared by the control API, the phone page and LINE
Login (adding the bot as a friend on the consent screen): it updates the
friendship, stores the content a user sends, issues the reply token, writes the
chat timeline, then delivers the signed webhook *outside* the lock so the app
can call the Messaging API (reply...) while its webhook handler runs.
"""
from __future__ import annotations

import base64
import binascii
import time

from .state import State, iso_now
from .webhooks import EventError, build_event, deliver, encode_body, sign

# A 1x1 transparent PNG: the picture sent when a test sends an image without one.
PLACEHOLDER_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
REPLY_TOKEN_MEMORY_SECONDS = 3600  # past this an expired token is forgotten ("Invalid reply token" either way)
_DEFAULT_TYPES = {"image": "image/png", "video": "video/mp4", "audio": "audio/x-m4a", "file": "application/octet-stream"}


class NotFound(LookupError):
    """An unknown channel or user."""


class Conflict(RuntimeError):
    """The action is impossible in the current state (e.g. a blocked user sending)."""


def _content(message: dict, upload) -> tuple[bytes, str] | None:
    """The bytes and MIME type of a media/file message, from an upload or base64."""
    kind = message.get("type")
    if kind not in _DEFAULT_TYPES:
        return None
    if upload is not None:
        return upload.read(), upload.mimetype or _DEFAULT_TYPES[kind]
    if message.get("content_base64") is not None:
        try:
            data = base64.b64decode(message["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise EventError("content_base64 is not valid base64") from None
        return data, message.get("content_type") or _DEFAULT_TYPES[kind]
    if kind == "image":
        return PLACEHOLDER_PNG, "image/png"
    if kind == "file":
        return message.get("content", "").encode("utf-8"), message.get("content_type") or "text/plain"
    raise EventError(f"a {kind} message needs its content (multipart 'file' or 'content_base64')")


def _forget_expired_reply_tokens(data: dict) -> None:
    """Drop reply tokens long past their one-minute life, so the state stays small."""
    horizon = time.time() - REPLY_TOKEN_MEMORY_SECONDS
    for token in [t for t, grant in data["reply_tokens"].items() if grant["issued_at"] < horizon]:
        del data["reply_tokens"][token]


def _find_entry(chat: list, message_id: str) -> dict | None:
    for entry in chat:
        if entry.get("from") == "user" and entry["event"].get("message", {}).get("id") == message_id:
            return entry
    return None


def send_user_event(state: State, channel_id: str, user_id: str, spec: dict, upload=None) -> dict:
    """Apply a user's action to the world and deliver its webhook.

    Returns {"event": ..., "delivery": {...}}.  Raises NotFound, Conflict or
    EventError (a malformed spec).
    """
    kind = spec.get("type")
    with state.change() as data:
        channel = data["channels"].get(channel_id)
        if channel is None:
            raise NotFound(f"unknown channel {channel_id}")
        if user_id not in data["users"]:
            raise NotFound(f"unknown user {user_id}")
        friendship = state.friendship(channel_id, user_id)
        if friendship == "blocked" and kind not in ("follow", "unfollow"):
            raise Conflict("this user has blocked the channel: add it as a friend again first")
        message_spec = dict(spec.get("message") or {})
        message_id = state.next_message_id() if kind == "message" else None
        content = _content(message_spec, upload) if kind == "message" else None
        if content and message_spec.get("type") == "file":
            message_spec.setdefault("fileSize", len(content[0]))
        event = build_event({**spec, "message": message_spec}, user_id, message_id=message_id,
                            follow_unblocked=friendship == "blocked")
        if content:
            data["contents"][message_id] = {
                "channel_id": channel_id, "type": message_spec["type"], "content_type": content[1],
                "data": base64.b64encode(content[0]).decode("ascii"),
                "transcoding": "processing" if message_spec.get("transcoding") == "processing" else "succeeded",
            }
        if kind == "follow":
            state.set_friendship(channel_id, user_id, "friend")
        elif kind == "unfollow":
            state.set_friendship(channel_id, user_id, "blocked")
        _forget_expired_reply_tokens(data)
        if "replyToken" in event:
            data["reply_tokens"][event["replyToken"]] = {
                "channel_id": channel_id, "user_id": user_id, "issued_at": time.time(), "used": False,
            }
        chat = state.chat(channel_id, user_id)
        if kind == "unsend":
            target = _find_entry(chat, event["unsend"]["messageId"])
            if target:
                target["unsent"] = True
        entry = {"id": event["webhookEventId"], "from": "user", "at": iso_now(), "event": event, "delivery": None}
        if spec.get("display_text"):
            entry["display_text"] = spec["display_text"]  # what LINE shows for a postback tap
        chat.append(entry)
        url = channel.get("webhook_url") if channel.get("webhook_active", True) else None
        inactive = bool(channel.get("webhook_url")) and url is None
        destination, secret = channel["bot_user_id"], channel["channel_secret"]
    body = encode_body(destination, [event])
    delivery = deliver(url, body, sign(secret, body))
    if inactive:
        delivery["error"] = "webhook is not active"
    with state.change():
        entry["delivery"] = delivery
    return {"event": event, "delivery": delivery}


def deliver_raw(state: State, channel_id: str, events=None, raw_body: str | None = None,
                signature: str | None = None) -> dict:
    """Deliver an arbitrary body (or events) to a channel's webhook, signed unless told otherwise."""
    with state.read() as data:
        channel = data["channels"].get(channel_id)
        if channel is None:
            raise NotFound(f"unknown channel {channel_id}")
        url, secret, destination = channel.get("webhook_url"), channel["channel_secret"], channel["bot_user_id"]
    body = raw_body.encode("utf-8") if raw_body is not None else encode_body(destination, list(events or []))
    signature = signature if signature is not None else sign(secret, body)
    delivery = deliver(url, body, signature)
    return {"body": body.decode("utf-8"), "signature": signature, "delivery": delivery}


def issue_follow_if_needed(state: State, channel_id: str, user_id: str) -> bool:
    """Make the user a friend of the channel (as LINE Login's consent does); True if it changed."""
    with state.read():
        if state.friendship(channel_id, user_id) == "friend":
            return False
    send_user_event(state, channel_id, user_id, {"type": "follow"})
    return True
