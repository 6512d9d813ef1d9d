"""The Messaging API: sending messages, bot info, webhook settings, profiles.

Every body is validated against messaging-api.yml (see ``api.validate_body``)
and against the limits LINE documents but the spec does not encode (text
length in UTF-16 code units, alt text length).  Sending rules follow LINE:
reply tokens are single-use and live one minute; a push with an
``X-Line-Retry-Key`` that was already accepted answers 409 with
``x-line-accepted-request-id`` and delivers nothing; pushing to a user who is
not a friend (or blocked the bot) answers 400 "Failed to send messages".
"""
from __future__ import annotations

import re
import time
import uuid

from flask import Blueprint, g, jsonify, request

from .api import LineError, json_body, sandbox, validate_body
from .state import iso_now
from .stickers import sendable_stickers
from .webhooks import QUOTABLE, deliver, encode_body, sign

bp = Blueprint("messaging", __name__)

REPLY_TOKEN_LIFETIME_SECONDS = 60
RETRY_KEY_LIFETIME_SECONDS = 24 * 3600
DEFAULT_QUOTA = 200
TEXT_LIMIT, ALT_TEXT_LIMIT = 5000, 1500
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")


def utf16_length(text: str) -> int:
    """Length as LINE counts it: UTF-16 code units (an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le")) // 2


URL_LIMIT = 2000
_LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/")


def _media_url_errors(message: dict, i: int) -> list[dict]:
    """Image URLs: HTTPS (LINE refuses http; the sandbox also takes loopback http, its own machine), <= 2000 chars."""
    details = []
    for key in ("originalContentUrl", "previewImageUrl"):
        url = message.get(key)
        if not isinstance(url, str):
            continue
        if not (url.startswith("https://") or _LOOPBACK.match(url)):
            details.append({"message": "must be a valid HTTPS URL", "property": f"messages[{i}].{key}"})
        elif len(url) > URL_LIMIT:
            details.append({"message": f"Length must be between 0 and {URL_LIMIT}", "property": f"messages[{i}].{key}"})
    return details


def _sticker_errors(message: dict, i: int) -> list[dict]:
    """Only the stickers of LINE's list may be sent by a bot (LINE answers 400 for others)."""
    allowed = sendable_stickers()
    if allowed and (str(message.get("packageId")), str(message.get("stickerId"))) not in allowed:
        return [{"message": "invalid sticker (not in the list of stickers bots may send)",
                 "property": f"messages[{i}].stickerId"}]
    return []


def limit_errors(messages) -> list[dict]:
    """LINE's documented limits that messaging-api.yml does not express."""
    details = []
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict):
            continue
        if message.get("type") in ("image", "video"):
            details += _media_url_errors(message, i)
        if message.get("type") == "sticker":
            details += _sticker_errors(message, i)
        text = message.get("text")
        if message.get("type") in ("text", "textV2") and isinstance(text, str):
            if not text:
                details.append({"message": "may not be empty", "property": f"messages[{i}].text"})
            elif utf16_length(text) > TEXT_LIMIT:
                details.append({"message": f"Length must be between 0 and {TEXT_LIMIT}",
                                "property": f"messages[{i}].text"})
        alt = message.get("altText")
        if isinstance(alt, str) and utf16_length(alt) > ALT_TEXT_LIMIT:
            details.append({"message": f"Length must be between 0 and {ALT_TEXT_LIMIT}",
                            "property": f"messages[{i}].altText"})
    return details


def _channel(data) -> dict:
    return data["channels"][g.channel_id]


def _record_delivery(state, data, via: str, recipients: list, body: dict, retry_key=None) -> list:
    """Deliver a request's messages to users (lock held): chat timelines, the sent log.

    Returns the ``sentMessages`` of the response.
    """
    channel_id, messages = g.channel_id, body["messages"]
    sent_messages = []
    for message in messages:
        sent = {"id": state.next_message_id()}
        if message.get("type") in QUOTABLE:
            sent["quoteToken"] = uuid.uuid4().hex + uuid.uuid4().hex
        sent_messages.append(sent)
    stamped = [{**m, "id": s["id"]} for m, s in zip(messages, sent_messages, strict=False)]
    for user_id in recipients:
        state.chat(channel_id, user_id).append({
            "id": g.request_id, "from": "bot", "at": iso_now(), "via": via, "messages": stamped,
            "notificationDisabled": bool(body.get("notificationDisabled")),
        })
        data["sent"].setdefault(channel_id, []).append({
            "request_id": g.request_id, "via": via, "to": user_id, "retry_key": retry_key,
            "messages": messages, "sent_messages": sent_messages, "sent_at": iso_now(),
        })
    return sent_messages


def _retry_key() -> str | None:
    key = request.headers.get("X-Line-Retry-Key")
    if key is None:
        return None
    try:
        uuid.UUID(key)
    except ValueError:
        raise LineError(400, "The retry key must be a UUID (e.g. 123e4567-e89b-12d3-a456-426614174000)") from None
    return key.lower()


def _send(via: str, recipients_of):
    """Shared flow of push/multicast/broadcast: retry key, validation, quota, delivery."""
    retry_key = _retry_key()
    body = json_body()
    validate_body(body, limit_errors(body.get("messages") if isinstance(body, dict) else None))
    state = sandbox().state
    with state.change() as data:
        keys = data["retry_keys"].setdefault(g.channel_id, {})
        accepted = keys.get(retry_key) if retry_key else None
        if accepted and time.time() - accepted["accepted_at"] < RETRY_KEY_LIFETIME_SECONDS:
            raise LineError(409, "The retry key is already accepted", sentMessages=accepted["sentMessages"],
                            headers={"x-line-accepted-request-id": accepted["request_id"]})
        recipients = recipients_of(state, data, body)
        usage = data["quota_usage"].get(g.channel_id, 0)
        if usage + len(recipients) > _channel(data).get("quota", DEFAULT_QUOTA):
            raise LineError(429, "You have reached your monthly limit.")
        data["quota_usage"][g.channel_id] = usage + len(recipients)
        sent = _record_delivery(state, data, via, recipients, body, retry_key)
        if retry_key:
            keys[retry_key] = {"count": 1, "request_id": g.request_id, "accepted_at": time.time(),
                               "sentMessages": sent}
    return sent


def _friend_or_fail(state, user_id: str) -> None:
    if not isinstance(user_id, str) or not _USER_ID.match(user_id):
        raise LineError(400, "The property, 'to', in the request body is invalid (line: -, column: -)")
    if state.friendship(g.channel_id, user_id) != "friend":
        raise LineError(400, "Failed to send messages")


@bp.post("/v2/bot/message/push")
def push():
    def recipients(state, data, body):
        _friend_or_fail(state, body["to"])
        return [body["to"]]

    return jsonify(sentMessages=_send("push", recipients))


@bp.post("/v2/bot/message/multicast")
def multicast():
    def recipients(state, data, body):
        return [u for u in dict.fromkeys(body["to"]) if state.friendship(g.channel_id, u) == "friend"]

    _send("multicast", recipients)
    return jsonify({})


@bp.post("/v2/bot/message/broadcast")
def broadcast():
    def recipients(state, data, body):
        return [u for u, status in data["friends"].get(g.channel_id, {}).items() if status == "friend"]

    _send("broadcast", recipients)
    return jsonify({})


@bp.post("/v2/bot/message/reply")
def reply():
    body = json_body()
    validate_body(body, limit_errors(body.get("messages") if isinstance(body, dict) else None))
    state = sandbox().state
    with state.change() as data:
        token = data["reply_tokens"].get(body["replyToken"])
        if (token is None or token["used"] or token["channel_id"] != g.channel_id
                or time.time() - token["issued_at"] > REPLY_TOKEN_LIFETIME_SECONDS):
            raise LineError(400, "Invalid reply token")
        token["used"] = True
        sent = _record_delivery(state, data, "reply", [token["user_id"]], body)
    return jsonify(sentMessages=sent)


@bp.post("/v2/bot/message/validate/<kind>")
def validate_messages(kind):
    body = json_body()
    validate_body(body, limit_errors(body.get("messages") if isinstance(body, dict) else None))
    return jsonify({})


@bp.get("/v2/bot/message/quota")
def quota():
    with sandbox().state.read() as data:
        return jsonify(type="limited", value=_channel(data).get("quota", DEFAULT_QUOTA))


@bp.get("/v2/bot/message/quota/consumption")
def quota_consumption():
    with sandbox().state.read() as data:
        return jsonify(totalUsage=data["quota_usage"].get(g.channel_id, 0))


@bp.post("/v2/bot/coupon")
def create_coupon():
    body = json_body()
    validate_body(body)
    if body["endTimestamp"] <= body["startTimestamp"]:
        raise LineError(400, "The request body has 1 error(s)",
                        [{"message": "must be after startTimestamp", "property": "endTimestamp"}])
    coupon_id = "01" + uuid.uuid4().hex[:24].upper()
    with sandbox().state.change() as data:
        data.setdefault("coupons", {}).setdefault(g.channel_id, {})[coupon_id] = {
            **body, "couponId": coupon_id, "status": "RUNNING", "createdTimestamp": int(time.time())}
    return jsonify(couponId=coupon_id)


@bp.get("/v2/bot/coupon/<coupon_id>")
def get_coupon(coupon_id):
    with sandbox().state.read() as data:
        coupon = data.get("coupons", {}).get(g.channel_id, {}).get(coupon_id)
        if coupon is None:
            raise LineError(404, "Not found")
        return jsonify(coupon)


@bp.get("/v2/bot/coupon")
def list_coupons():
    with sandbox().state.read() as data:
        items = [{"couponId": c["couponId"], "title": c["title"]} for c in data.get("coupons", {}).get(g.channel_id, {}).values()]
    return jsonify(items=items)


@bp.put("/v2/bot/coupon/<coupon_id>/close")
def close_coupon(coupon_id):
    with sandbox().state.change() as data:
        coupon = data.get("coupons", {}).get(g.channel_id, {}).get(coupon_id)
        if coupon is None:
            raise LineError(404, "Not found")
        coupon["status"] = "CLOSED"
    return jsonify({})


@bp.get("/v2/bot/info")
def bot_info():
    with sandbox().state.read() as data:
        channel = _channel(data)
        info = {"userId": channel["bot_user_id"], "basicId": channel["basic_id"],
                "displayName": channel["bot_name"], "chatMode": channel.get("chat_mode", "bot"),
                "markAsReadMode": channel.get("mark_as_read_mode", "auto")}
        if channel.get("picture_url"):
            info["pictureUrl"] = channel["picture_url"]
    return jsonify(info)


@bp.get("/v2/bot/channel/webhook/endpoint")
def get_webhook_endpoint():
    with sandbox().state.read() as data:
        channel = _channel(data)
        return jsonify(endpoint=channel.get("webhook_url") or "",
                       active=bool(channel.get("webhook_url")) and channel.get("webhook_active", True))


@bp.put("/v2/bot/channel/webhook/endpoint")
def set_webhook_endpoint():
    body = json_body()
    validate_body(body)
    with sandbox().state.change() as data:
        _channel(data).update(webhook_url=body["endpoint"], webhook_active=True)
    return jsonify({})


@bp.post("/v2/bot/channel/webhook/test")
def test_webhook():
    body = json_body() if request.get_data(cache=True) else {}
    validate_body(body)
    with sandbox().state.read() as data:
        channel = _channel(data)
        endpoint = (body or {}).get("endpoint") or channel.get("webhook_url")
        secret, destination = channel["channel_secret"], channel["bot_user_id"]
    if not endpoint:
        raise LineError(400, "Webhook URL is not set")
    payload = encode_body(destination, [])
    delivery = deliver(endpoint, payload, sign(secret, payload))
    status = delivery["status_code"]
    if status is None:
        reason, detail = delivery.get("reason", "UNCLASSIFIED"), delivery.get("error", "")
    else:
        reason, detail = ("OK" if 200 <= status < 300 else "ERROR_STATUS_CODE"), str(status)
    return jsonify(success=reason == "OK", timestamp=iso_now(), statusCode=status or 0, reason=reason, detail=detail)


@bp.get("/v2/bot/profile/<user_id>")
def profile(user_id):
    state = sandbox().state
    with state.read() as data:
        user = data["users"].get(user_id)
        if user is None or state.friendship(g.channel_id, user_id) != "friend":
            raise LineError(404, "Not found")
        body = {"displayName": user["display_name"], "userId": user_id, "language": user.get("language", "ja")}
        for key, field in (("pictureUrl", "picture_url"), ("statusMessage", "status_message")):
            if user.get(field):
                body[key] = user[field]
    return jsonify(body)


@bp.get("/v2/bot/followers/ids")
def follower_ids():
    limit = min(int(request.args.get("limit", 1000)), 1000)
    start = int(request.args.get("start") or 0)
    with sandbox().state.read() as data:
        ids = sorted(u for u, s in data["friends"].get(g.channel_id, {}).items() if s == "friend")
    body = {"userIds": ids[start:start + limit]}
    if start + limit < len(ids):
        body["next"] = str(start + limit)
    return jsonify(body)


@bp.post("/v2/bot/chat/loading/start")
def loading_start():
    validate_body(json_body())
    return jsonify({}), 202


@bp.post("/v2/bot/message/markAsRead")
def mark_as_read():
    body = json_body()
    validate_body(body)
    _mark_read(body["chat"]["userId"])
    return jsonify({})


@bp.post("/v2/bot/chat/markAsRead")
def mark_as_read_by_token():
    body = json_body()
    validate_body(body)
    state = sandbox().state
    with state.read() as data:
        for user_id, chat in data["chats"].get(g.channel_id, {}).items():  # noqa: B007 (the user found is read after the loop)
            if any(e["event"].get("message", {}).get("markAsReadToken") == body["markAsReadToken"]
                   for e in chat if e["from"] == "user"):
                break
        else:
            raise LineError(400, "Invalid markAsReadToken")
    _mark_read(user_id)
    return jsonify({})


def _mark_read(user_id: str) -> None:
    state = sandbox().state
    with state.change():
        for entry in state.chat(g.channel_id, user_id):
            if entry["from"] == "user":
                entry["read"] = True
