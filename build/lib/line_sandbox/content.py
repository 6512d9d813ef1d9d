"""Message content users sent (LINE serves these from api-data.line.me).

``GET /v2/bot/message/<id>/content`` answers the bytes with their
Content-Type, or 202 with an empty body while a video or audio is still being
transcoded (``"transcoding": "processing"`` when the test sent it, until
``POST /_sandbox/channels/<channel>/messages/<id>/transcode-done``).
Content is only visible to the channel that received the message.
"""
from __future__ import annotations

import base64

from flask import Blueprint, Response, g, jsonify

from .api import LineError, sandbox
from .events import PLACEHOLDER_PNG

bp = Blueprint("content", __name__)


def _content(data, message_id: str) -> dict:
    content = data["contents"].get(message_id)
    if content is None or content["channel_id"] != g.channel_id:
        raise LineError(404, "Not found")
    return content


@bp.get("/v2/bot/message/<message_id>/content")
def get_content(message_id):
    with sandbox().state.read() as data:
        content = dict(_content(data, message_id))
    if content["transcoding"] == "processing":
        return Response(b"", status=202)
    if content["transcoding"] == "failed":
        raise LineError(404, "Not found")
    return Response(base64.b64decode(content["data"]), mimetype=content["content_type"])


@bp.get("/v2/bot/message/<message_id>/content/preview")
def get_preview(message_id):
    with sandbox().state.read() as data:
        content = dict(_content(data, message_id))
    if content["type"] not in ("image", "video"):
        raise LineError(404, "Not found")
    if content["transcoding"] == "processing":
        return Response(b"", status=202)
    if content["type"] == "image":
        return Response(base64.b64decode(content["data"]), mimetype=content["content_type"])
    return Response(PLACEHOLDER_PNG, mimetype="image/png")


@bp.get("/v2/bot/message/<message_id>/content/transcoding")
def get_transcoding(message_id):
    with sandbox().state.read() as data:
        content = _content(data, message_id)
        if content["type"] not in ("image", "video", "audio"):
            raise LineError(400, "The message is not a video, audio or image message")
        return jsonify(status=content["transcoding"])
