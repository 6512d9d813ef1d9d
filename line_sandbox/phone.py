"""The phone page: act as a LINE user of the shop, in a browser.

``/phone`` (or ``/phone/<channel_id>/<user_id>``) is a 375 px LINE-like chat.
Its script (static/phone.js) polls ``/phone/api/chat/<channel>/<user>`` and
acts through the control API (``/_sandbox/...``), so everything a developer
does here a test can do too.  Content users sent and rich menu images are
served locally: the page loads nothing from the internet.
"""
from __future__ import annotations

import base64

import requests
from flask import Blueprint, Response, abort, jsonify, render_template, request

from .api import sandbox
from .events import Conflict, NotFound, send_user_event
from .stickers import sendable_stickers
from .webhooks import EventError

bp = Blueprint("phone", __name__, url_prefix="/phone", static_folder="static", static_url_path="/static")

# A few well-known LINE sticker ids, shown as labels (no images from LINE's CDN).
STICKERS = [
    {"packageId": "446", "stickerId": "1988", "emoji": "👍", "label": "OK!"},
    {"packageId": "446", "stickerId": "1989", "emoji": "😊", "label": "ありがとう"},
    {"packageId": "446", "stickerId": "1990", "emoji": "🙇", "label": "よろしく"},
    {"packageId": "446", "stickerId": "1992", "emoji": "🎉", "label": "おめでとう"},
    {"packageId": "789", "stickerId": "10855", "emoji": "😍", "label": "大好き"},
    {"packageId": "789", "stickerId": "10857", "emoji": "😢", "label": "かなしい"},
    {"packageId": "11537", "stickerId": "52002734", "emoji": "🙏", "label": "お願い"},
    {"packageId": "11537", "stickerId": "52002738", "emoji": "💤", "label": "おやすみ"},
]


def area_label(action: dict) -> str:
    """What a rich menu area or button shows: label, displayText, text or data."""
    for key in ("label", "displayText", "text", "data", "uri"):
        if action.get(key):
            return str(action[key])
    return action.get("type", "")


@bp.get("")
@bp.get("/<channel_id>/<user_id>")
def page(channel_id=None, user_id=None):
    return render_template("phone.html", channel_id=channel_id or "", user_id=user_id or "", stickers=STICKERS)


@bp.get("/api/directory")
def directory():
    with sandbox().state.read() as data:
        channels = [{"channel_id": c["channel_id"], "bot_name": c["bot_name"]} for c in data["channels"].values()]
        users = [{"user_id": u["user_id"], "display_name": u["display_name"]} for u in data["users"].values()]
    labels = [{"packageId": p, "stickerId": s, "label": label} for (p, s), label in sendable_stickers().items() if label]
    return jsonify(channels=channels, users=users, stickers=STICKERS, sendable=labels)


def _richmenu_view(state, channel_id: str, user_id: str) -> dict | None:
    menu = state.richmenu_for(channel_id, user_id)
    if menu is None:
        return None
    return {
        "richMenuId": menu["richMenuId"], "size": menu.get("size"), "chatBarText": menu.get("chatBarText", ""),
        "selected": bool(menu.get("selected")),
        "image_url": f"/phone/richmenu/{channel_id}/{menu['richMenuId']}/image" if menu.get("image") else None,
        "areas": [{"bounds": a["bounds"], "action": a["action"], "label": area_label(a["action"])}
                  for a in menu.get("areas", [])],
    }


@bp.get("/api/chat/<channel_id>/<user_id>")
def chat(channel_id, user_id):
    state = sandbox().state
    with state.read() as data:
        channel, user = data["channels"].get(channel_id), data["users"].get(user_id)
        if channel is None or user is None:
            return jsonify(error="unknown channel or user"), 404
        entries = []
        for entry in state.chat(channel_id, user_id):
            entry = dict(entry)
            message = entry.get("event", {}).get("message", {})
            if entry["from"] == "user" and message.get("id") in data["contents"]:
                entry["content_url"] = f"/phone/content/{message['id']}"
            entries.append(entry)
        return jsonify(
            channel={"channel_id": channel_id, "bot_name": channel["bot_name"], "webhook_url": channel.get("webhook_url")},
            user={"user_id": user_id, "display_name": user["display_name"]},
            friendship=state.friendship(channel_id, user_id),
            entries=entries, richmenu=_richmenu_view(state, channel_id, user_id),
        )


MEDIA_LIMITS = {"originalContentUrl": 10 * 1024 * 1024, "previewImageUrl": 1024 * 1024}
MEDIA_TYPES = ("image/jpeg", "image/png")


def _sent_urls(data) -> set:
    """Every image URL a bot sent (the phone fetches only those: it is no open proxy)."""
    urls = set()
    for entries in data["sent"].values():
        for entry in entries:
            for message in entry["messages"]:
                urls.update(message[k] for k in MEDIA_LIMITS if isinstance(message.get(k), str))
    return urls


def fetch_media(url: str, kind: str) -> tuple[bytes, str]:
    """GET an image the way LINE does: a 200 with a JPEG/PNG body within LINE's size limit, else MediaFetchError."""
    try:
        response = requests.get(url, timeout=5, stream=True)
    except requests.RequestException as exc:
        raise MediaFetchError(f"unreachable: {exc.__class__.__name__}") from None
    with response:
        if response.status_code != 200:
            raise MediaFetchError(f"HTTP {response.status_code}")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in MEDIA_TYPES:
            raise MediaFetchError(f"not JPEG or PNG ({content_type or 'no Content-Type'})")
        limit = MEDIA_LIMITS.get(kind, MEDIA_LIMITS["originalContentUrl"])
        body = response.raw.read(limit + 1, decode_content=True)
        if len(body) > limit:
            raise MediaFetchError(f"larger than {limit} bytes")
    return body, content_type


class MediaFetchError(Exception):
    """The image at a sent URL cannot be shown (LINE would show a broken image)."""


@bp.get("/api/media")
def bot_media():
    """The phone shows a bot's image by fetching its URL now, as LINE's app does; a failure is a 502 saying why."""
    url, kind = request.args.get("url", ""), request.args.get("kind", "previewImageUrl")
    with sandbox().state.read() as data:
        known = url in _sent_urls(data)
    if not known:
        return jsonify(error="no bot sent this URL"), 404
    try:
        body, content_type = fetch_media(url, kind)
    except MediaFetchError as error:
        return jsonify(error=str(error), url=url), 502
    return Response(body, mimetype=content_type, headers={"Cache-Control": "no-store"})


@bp.get("/content/<message_id>")
def user_content(message_id):
    with sandbox().state.read() as data:
        content = data["contents"].get(message_id)
        if content is None:
            abort(404)
        return Response(base64.b64decode(content["data"]), mimetype=content["content_type"])


@bp.get("/richmenu/<channel_id>/<rich_menu_id>/image")
def richmenu_image(channel_id, rich_menu_id):
    with sandbox().state.read() as data:
        menu = data["richmenus"].get(channel_id, {}).get(rich_menu_id)
        if not menu or not menu.get("image"):
            abort(404)
        return Response(base64.b64decode(menu["image"]["data"]), mimetype=menu["image"]["content_type"])


@bp.post("/api/richmenu-switch/<channel_id>/<user_id>")
def richmenu_switch(channel_id, user_id):
    """A richmenuswitch tap: show the alias's menu, then send the postback LINE sends."""
    body = request.get_json(silent=True) or {}
    alias_id = body.get("richMenuAliasId", "")
    state = sandbox().state
    with state.change() as data:
        target = data["richmenu_aliases"].get(channel_id, {}).get(alias_id)
        if target:
            data["user_richmenus"].setdefault(channel_id, {})[user_id] = target
    spec = {"type": "postback", "data": body.get("data", ""),
            "params": {"newRichMenuAliasId": alias_id, "status": "SUCCESS" if target else "RICHMENU_ALIAS_ID_NOTFOUND"}}
    try:
        return jsonify(send_user_event(state, channel_id, user_id, spec))
    except (NotFound, Conflict, EventError) as error:
        return jsonify(error=str(error)), 400
