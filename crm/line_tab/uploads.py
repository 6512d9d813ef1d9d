"""The composer's image upload, read from the request (at most 10 MB + 1 byte, so "too big" is known)."""
from flask import request
from flask_babel import gettext as _

from crm.line_platform.outgoing import MAX_IMAGE_BYTES, ImageRefused


def uploaded_image() -> bytes | None:
    """The composer's ``image`` file as bytes, or None when none was chosen; ImageRefused for an empty file."""
    upload = request.files.get("image")
    if upload is None or not upload.filename:
        return None
    try:
        data = upload.stream.read(MAX_IMAGE_BYTES + 1)
    finally:
        upload.close()  # a large upload is a temporary file: closed now, not by the garbage collector
    if not data:
        raise ImageRefused(_("画像ファイルが空です。"), field="image")
    return data


def refuse_image_here() -> None:
    """下書き保存 and 送信予約 keep text only so far: an attached image is refused, not silently dropped."""
    upload = request.files.get("image")
    if upload is not None and upload.filename:
        upload.close()
        raise ImageRefused(_("画像は下書き保存・送信予約にはまだ使えません。今すぐ送信するか、画像を外してください。"),
                           field="image")
