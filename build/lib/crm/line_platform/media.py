"""Downloading what customers send (LINE deletes content after a while): images, video, audio, files."""
import logging
import mimetypes
import time
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from linebot.v3.messaging import ApiException

from crm.extensions import db
from crm.line_tab.models import LineMessage
from crm.shops.models import LineChannel

log = logging.getLogger(__name__)
PREPARING_RETRIES = 10


def schedule_download(message_id):
    """Download after the event's commit, in the background."""
    from crm.jobs import enqueue_after_commit

    enqueue_after_commit("crm.line_platform.media.download_media", message_id)


def media_root():
    root = Path(current_app.config["MEDIA_STORAGE_DIR"])
    root.mkdir(parents=True, exist_ok=True)
    return root


def download_media(message_id):
    """Job: fetch the content of one incoming message; a 202 (video being prepared) is retried."""
    row = db.session.get(LineMessage, message_id)
    if row is None or row.media_status != "pending":
        return
    channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == row.shop_id)).first()
    if channel is None or not channel.configured:
        row.media_status = "failed"
        return
    from crm.line_platform.client import line_apis

    token, line_message_id = channel.channel_access_token, row.line_message_id
    db.session.commit()  # no transaction stays open during the download
    try:
        with line_apis(token) as apis:
            for attempt in range(PREPARING_RETRIES):
                response = apis.blob.get_message_content_with_http_info(line_message_id)
                if response.status_code != 202:
                    break
                time.sleep(min(2**attempt * 0.1, 5))
            else:
                row.payload = {**row.payload, "media_error": "content still being prepared"}
                row.media_status = "failed"
                return
    except ApiException as exc:
        row.media_status = "failed"
        row.payload = {**row.payload, "media_error": f"{exc.status} {exc.reason}"}
        return
    content_type = (response.headers or {}).get("Content-Type", "application/octet-stream").split(";")[0]
    extension = mimetypes.guess_extension(content_type) or ".bin"
    relative = Path(str(row.shop_id)) / f"{row.line_message_id}{extension}"
    path = media_root() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(response.data))
    row.media_path = str(relative)
    row.media_content_type = content_type
    row.media_status = "stored"
