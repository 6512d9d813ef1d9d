"""An image upload (the LINE composer, a draft, a broadcast), read from the request and stored.

Read at most 10 MB + 1 byte, so "too big" is known; checked before anything is stored.
"""
from flask import request
from flask_babel import gettext as _

from crm.line_platform.outgoing import MAX_IMAGE_BYTES, ImageRefused, StoredImage, store_image

KEEP = object()  # an edit form's image: leave the attached image as it is


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


def stored_upload(shop_id: int) -> StoredImage | None:
    """The composer's image checked and stored (original and preview), or None; ImageRefused before storing."""
    data = uploaded_image()
    return store_image(shop_id, data) if data is not None else None


def image_choice(shop_id: int):
    """The image of an edit form (a draft, a broadcast): a new upload, None when 「画像を外す」 was ticked, else KEEP."""
    image = stored_upload(shop_id)
    if image is not None:
        return image
    return None if request.form.get("remove_image") else KEEP
