"""Outgoing images and stickers: the LINE message objects, and the signed URLs LINE fetches images from.

An image is stored twice through the media storage: the original (JPEG or PNG, at
most 10 MB, as LINE's ``originalContentUrl`` allows) and a JPEG preview made with
Pillow (at most 1 MB, ``previewImageUrl``).  The row's payload keeps the storage
keys, never a URL: the URLs are signed (SECRET_KEY, itsdangerous) when a delivery
is claimed, so a 送信予約 months ahead still hands LINE a fresh URL, and they
expire after ``LINE_MEDIA_URL_MAX_AGE`` seconds (default 30 days).
"""
import io
import uuid
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from crm.errors import UserError
from crm.storage import check_key, get_storage, media_key
from crm.urls import external_url

MAX_IMAGE_BYTES = 10 * 1024 * 1024  # LINE: originalContentUrl at most 10 MB
MAX_PREVIEW_BYTES = 1024 * 1024  # LINE: previewImageUrl at most 1 MB
PREVIEW_SIDE = 1024
IMAGE_TYPES = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png")}
_SALT = "line-outgoing-media"
DEFAULT_MAX_AGE = 30 * 24 * 3600


class ImageRefused(UserError, ValueError):
    """The uploaded file cannot be sent as a LINE image; the text says why."""


@dataclass
class StoredImage:
    key: str
    preview_key: str
    content_type: str
    size: int


def _pillow():
    # Pillow loads only where images are handled (not in every web worker's import of the gateway).
    from PIL import Image, ImageOps

    return Image, ImageOps


def _preview(image) -> bytes:
    """A JPEG at most PREVIEW_SIDE px and 1 MB: lower quality until it fits."""
    _image, image_ops = _pillow()
    image = image_ops.exif_transpose(image)
    if image.mode not in ("RGB", "L"):
        background = _image.new("RGB", image.size, "white")  # transparent PNG areas become white, as LINE shows them
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    for quality in (85, 75, 60, 45):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= MAX_PREVIEW_BYTES:
            return out.getvalue()
    image.thumbnail((PREVIEW_SIDE // 2, PREVIEW_SIDE // 2))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=60)
    return out.getvalue()


def check_image(data: bytes) -> tuple[str, str, bytes]:
    """(content type, extension, preview JPEG) of an upload, or ImageRefused; nothing is stored."""
    if not data:
        raise ImageRefused(_("画像ファイルを選んでください。"), field="image")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRefused(_("画像が大きすぎます（%(size).1f MB）。10 MBまでのJPEGかPNGを選んでください。",
                             size=len(data) / 1024 / 1024), field="image")
    image_cls, _ops = _pillow()
    try:
        with image_cls.open(io.BytesIO(data)) as probe:
            kind = probe.format
            probe.verify()  # a truncated or corrupt file fails here
        if kind not in IMAGE_TYPES:
            raise ImageRefused(_("送れる画像はJPEGとPNGだけです。"), field="image")
        with image_cls.open(io.BytesIO(data)) as image:
            image.load()
            preview = _preview(image)
    except ImageRefused:
        raise
    except image_cls.DecompressionBombError:
        raise ImageRefused(_("画像の画素数が多すぎます。"), field="image") from None
    except (OSError, ValueError, SyntaxError):
        raise ImageRefused(_("画像として読み込めないファイルです。JPEGかPNGを選んでください。"), field="image") from None
    content_type, extension = IMAGE_TYPES[kind]
    return content_type, extension, preview


def store_image(shop_id: int, data: bytes) -> StoredImage:
    """Check an upload and store the original and its preview; ImageRefused before anything is stored."""
    content_type, extension, preview = check_image(data)
    name = f"out-{uuid.uuid4().hex}"
    key, preview_key = media_key(shop_id, name + extension), media_key(shop_id, name + "-preview.jpg")
    storage = get_storage()
    storage.put(key, data, content_type)
    storage.put(preview_key, preview, "image/jpeg")
    return StoredImage(key, preview_key, content_type, len(data))


def image_message(image: StoredImage) -> dict:
    """The payload entry of an image: storage keys, turned into signed URLs when sent (to_line)."""
    return {"type": "image", "mediaKey": image.key, "previewKey": image.preview_key}


def sticker_message(package_id: str, sticker_id: str) -> dict:
    return {"type": "sticker", "packageId": str(package_id), "stickerId": str(sticker_id)}


# -- signed URLs ------------------------------------------------------------------------------
def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def max_age() -> int:
    return int(current_app.config.get("LINE_MEDIA_URL_MAX_AGE") or DEFAULT_MAX_AGE)


def signed_url(key: str) -> str:
    """An absolute URL on PUBLIC_BASE_URL from which anyone holding it may GET the object until it expires."""
    check_key(key)
    return external_url("line_platform.outgoing_media", token=_serializer().dumps(key))


def key_of(token: str) -> str | None:
    """The storage key a token names, or None if its signature is wrong or it expired."""
    try:
        key = _serializer().loads(token, max_age=max_age())
    except (SignatureExpired, BadSignature):
        return None
    return key if isinstance(key, str) else None


def to_line(messages: list) -> list:
    """The payload's messages as LINE takes them: image keys become signed HTTPS URLs."""
    out = []
    for message in messages:
        if message.get("type") == "image" and "mediaKey" in message:
            message = {"type": "image", "originalContentUrl": signed_url(message["mediaKey"]),
                       "previewImageUrl": signed_url(message["previewKey"])}
        out.append(message)
    return out
