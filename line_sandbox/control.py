"""The control API (``/_sandbox/...``): how tests, the demo and the phone page drive the sandbox.

It sets up the world (channels, LINE Login channels, users), makes users act
(events delivered as signed webhooks), shows what the bot did (sent messages,
accepted retry keys, the API request log) and injects faults.  Errors are
``{"error": "..."}`` with 400 (bad input), 404 (unknown thing) or 409.
"""
from __future__ import annotations

import json
import re
import time

from flask import Blueprint, jsonify, request

from .api import sandbox
from .events import Conflict, NotFound, deliver_raw, send_user_event
from .state import basic_id_for, bot_user_id_for, new_user_id
from .webhooks import EventError

bp = Blueprint("control", __name__, url_prefix="/_sandbox")

_USER_ID = re.compile(r"^U[0-9a-f]{32}$")
_CHANNEL_FIELDS = ("channel_secret", "channel_access_token", "bot_name", "bot_user_id", "chat_mode",
                   "webhook_url", "webhook_active", "picture_url", "quota", "mark_as_read_mode", "basic_id",
                   "rate_limit")


class ControlError(Exception):
    def __init__(self, status: int, error: str):
        super().__init__(error)
        self.status, self.error = status, error


@bp.errorhandler(ControlError)
def _control_error(error: ControlError):
    return jsonify(error=error.error), error.status


@bp.errorhandler(NotFound)
def _not_found(error):
    return jsonify(error=str(error)), 404


@bp.errorhandler(Conflict)
def _conflict(error):
    return jsonify(error=str(error)), 409


@bp.errorhandler(EventError)
def _bad_event(error):
    return jsonify(error=str(error)), 400


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ControlError(400, "expected a JSON object body")
    return body


def _require(body: dict, *keys: str) -> None:
    missing = [k for k in keys if not body.get(k)]
    if missing:
        raise ControlError(400, f"missing: {', '.join(missing)}")


# -- the world ------------------------------------------------------------------
@bp.post("/channels")
def put_channel():
    body = _body()
    _require(body, "channel_id", "channel_secret", "channel_access_token")
    channel_id = str(body["channel_id"])
    if body.get("chat_mode", "bot") not in ("bot", "chat"):
        raise ControlError(400, "chat_mode must be 'bot' or 'chat'")
    if body.get("bot_user_id") and not _USER_ID.match(body["bot_user_id"]):
        raise ControlError(400, "bot_user_id must look like U + 32 hex characters")
    with sandbox().state.change() as data:
        for other in data["channels"].values():
            if other["channel_id"] != channel_id and other["channel_access_token"] == body["channel_access_token"]:
                raise ControlError(409, f"channel {other['channel_id']} already uses this access token")
        channel = data["channels"].setdefault(channel_id, {
            "channel_id": channel_id, "bot_name": body.get("bot_name") or channel_id,
            "bot_user_id": bot_user_id_for(channel_id), "basic_id": basic_id_for(channel_id),
            "chat_mode": "bot", "mark_as_read_mode": "auto", "webhook_url": None, "webhook_active": True,
        })
        channel.update({k: body[k] for k in _CHANNEL_FIELDS if k in body})
        return jsonify(channel), 201


@bp.get("/channels")
def list_channels():
    with sandbox().state.read() as data:
        return jsonify(list(data["channels"].values()))


@bp.get("/channels/<channel_id>")
def get_channel(channel_id):
    with sandbox().state.read() as data:
        if channel_id not in data["channels"]:
            raise NotFound(f"unknown channel {channel_id}")
        return jsonify(data["channels"][channel_id])


@bp.post("/login-channels")
def put_login_channel():
    body = _body()
    _require(body, "channel_id", "channel_secret")
    login = {"channel_id": str(body["channel_id"]), "channel_secret": body["channel_secret"],
             "bot_channel_id": body.get("bot_channel_id"), "callback_urls": body.get("callback_urls") or []}
    with sandbox().state.change() as data:
        if login["bot_channel_id"] and login["bot_channel_id"] not in data["channels"]:
            raise ControlError(400, f"unknown bot_channel_id {login['bot_channel_id']}")
        data["login_channels"][login["channel_id"]] = login
    return jsonify(login), 201


@bp.post("/users")
def put_user():
    body = _body()
    _require(body, "display_name")
    user_id = body.get("user_id") or new_user_id()
    if not _USER_ID.match(user_id):
        raise ControlError(400, "user_id must look like U + 32 hex characters")
    user = {"user_id": user_id, "display_name": body["display_name"], "picture_url": body.get("picture_url"),
            "status_message": body.get("status_message"), "language": body.get("language", "ja")}
    with sandbox().state.change() as data:
        data["users"][user_id] = user
    return jsonify(user), 201


@bp.get("/users")
def list_users():
    with sandbox().state.read() as data:
        return jsonify(list(data["users"].values()))


# -- users acting -------------------------------------------------------------------
def _event_spec() -> tuple[dict, object]:
    """The event spec and optional upload of a JSON or multipart events request."""
    if request.mimetype != "multipart/form-data":
        return _body(), None
    upload = request.files.get("file")
    if request.form.get("event"):
        try:
            spec = json.loads(request.form["event"])
        except ValueError:
            raise ControlError(400, "the 'event' field must be JSON") from None
    else:
        message = {k: v for k, v in request.form.items() if k not in ("type", "message_type", "mode")}
        message["type"] = request.form.get("message_type", "image")
        spec = {"type": "message", "message": message, "mode": request.form.get("mode", "active")}
    if upload is None:
        raise ControlError(400, "a multipart request needs a 'file'")
    if upload.filename and spec.get("message", {}).get("type") == "file":
        spec["message"].setdefault("fileName", upload.filename)
    return spec, upload


@bp.post("/channels/<channel_id>/users/<user_id>/events")
def user_event(channel_id, user_id):
    spec, upload = _event_spec()
    return jsonify(send_user_event(sandbox().state, channel_id, user_id, spec, upload))


@bp.put("/channels/<channel_id>/users/<user_id>/friendship")
def set_friendship(channel_id, user_id):
    """Seed a friendship without a webhook (demo data): {"status": "friend" | "blocked" | null}."""
    status = (request.get_json(silent=True) or {}).get("status")
    if status not in ("friend", "blocked", None):
        raise ControlError(400, "status must be 'friend', 'blocked' or null")
    state = sandbox().state
    with state.change() as data:
        if channel_id not in data["channels"] or user_id not in data["users"]:
            raise NotFound("unknown channel or user")
        if status is None:
            data["friends"].get(channel_id, {}).pop(user_id, None)
        else:
            state.set_friendship(channel_id, user_id, status)
    return jsonify(channel_id=channel_id, user_id=user_id, status=status)


@bp.post("/channels/<channel_id>/friends")
def bulk_friendship(channel_id):
    """Seed many friendships at once (benchmarks): {"user_ids": [...], "status": "friend"}; no webhook."""
    body = _body()
    status = body.get("status", "friend")
    if status not in ("friend", "blocked"):
        raise ControlError(400, "status must be friend or blocked")
    ids = body.get("user_ids") or []
    if not isinstance(ids, list) or not all(isinstance(u, str) and _USER_ID.match(u) for u in ids):
        raise ControlError(400, "user_ids must be LINE user ids")
    with sandbox().state.change() as data:
        if channel_id not in data["channels"]:
            raise ControlError(404, "unknown channel")
        data["friends"].setdefault(channel_id, {}).update(dict.fromkeys(ids, status))
    return jsonify(count=len(ids))


@bp.post("/channels/<channel_id>/deliver")
def deliver(channel_id):
    body = _body()
    if "raw_body" not in body and not isinstance(body.get("events"), list):
        raise ControlError(400, "give 'events' (a list) or 'raw_body'")
    result = deliver_raw(sandbox().state, channel_id, body.get("events"), body.get("raw_body"), body.get("signature"))
    return jsonify(result)


@bp.post("/channels/<channel_id>/messages/<message_id>/transcode-done")
def transcode_done(channel_id, message_id):
    status = (request.get_json(silent=True) or {}).get("status", "succeeded")
    if status not in ("succeeded", "failed"):
        raise ControlError(400, "status must be 'succeeded' or 'failed'")
    with sandbox().state.change() as data:
        content = data["contents"].get(message_id)
        if content is None or content["channel_id"] != channel_id:
            raise NotFound(f"unknown message {message_id}")
        content["transcoding"] = status
    return jsonify(message_id=message_id, status=status)


@bp.post("/reply-tokens/<token>/expire")
def expire_reply_token(token):
    with sandbox().state.change() as data:
        if token not in data["reply_tokens"]:
            raise NotFound("unknown reply token")
        data["reply_tokens"][token]["issued_at"] = time.time() - 120  # past its one-minute life
    return jsonify(token=token, expired=True)


# -- what the bot did ---------------------------------------------------------------
@bp.get("/channels/<channel_id>/sent")
def sent(channel_id):
    return jsonify(sandbox().state.snapshot("sent", channel_id) or [])


@bp.get("/channels/<channel_id>/retry-keys")
def retry_keys(channel_id):
    keys = sandbox().state.snapshot("retry_keys", channel_id) or {}
    return jsonify({key: accepted["count"] for key, accepted in keys.items()})


@bp.get("/channels/<channel_id>/requests")
def requests_log(channel_id):
    return jsonify(sandbox().state.snapshot("requests", channel_id) or [])


@bp.get("/channels/<channel_id>/users/<user_id>/chat")
def chat(channel_id, user_id):
    return jsonify(sandbox().state.snapshot("chats", channel_id, user_id) or [])


# -- faults and reset -------------------------------------------------------------------
@bp.post("/faults")
def add_fault():
    body = _body()
    _require(body, "path")
    if not body.get("status") and not body.get("delay_seconds"):
        raise ControlError(400, "a fault needs a 'status', a 'delay_seconds' or both")
    fault = {"path": body["path"], "method": body.get("method"), "status": body.get("status"),
             "body": body.get("body"), "headers": body.get("headers"),
             "delay_seconds": float(body.get("delay_seconds") or 0), "times": int(body.get("times", 1))}
    with sandbox().state.change() as data:
        data["faults"].append(fault)
        return jsonify(fault=fault, queued=len(data["faults"])), 201


@bp.get("/faults")
def list_faults():
    return jsonify(sandbox().state.snapshot("faults") or [])


@bp.delete("/faults")
def clear_faults():
    with sandbox().state.change() as data:
        data["faults"].clear()
    return jsonify(queued=0)


@bp.post("/reset")
def reset():
    sandbox().state.reset()
    return jsonify(reset=True)


@bp.get("/health")
def health():
    return jsonify(ok=True)
