"""Downloading what customers send (LINE deletes content after a while): images, video, audio, files."""
import logging
import mimetypes
import time
from datetime import timedelta

import sqlalchemy as sa
from linebot.v3.messaging import ApiException

from crm.conversations.models import LineMessage
from crm.database import utcnow
from crm.extensions import db
from crm.jobs import enqueue_after_commit
from crm.line_platform.client import line_apis
from crm.shops.models import LineChannel
from crm.storage import StorageError, get_storage, media_key

log = logging.getLogger(__name__)
PREPARING_RETRIES = 10


def schedule_download(message_id):
    """Download after the event's commit, in the background."""
    enqueue_after_commit(download_media, message_id)


def download_media(message_id):
    """Job: fetch the content of one incoming message; a 202 (video being prepared) is retried."""
    row = db.session.get(LineMessage, message_id)
    if row is None or row.media_status != "pending":
        return
    channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == row.shop_id)).first()
    if channel is None or not channel.configured:
        row.media_status = "failed"
        return

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
    key = media_key(row.shop_id, f"{line_message_id}{extension}")  # the layout MEDIA_STORAGE_DIR always had
    try:
        get_storage().put(key, bytes(response.data), content_type)
    except StorageError as exc:
        # One line for the operator; the row stays pending and the tick's sweep retries it.
        log.error("media of message %s not stored, will retry: %s", message_id, exc)
        row.payload = {**row.payload, "media_error": str(exc)}  # also moves updated_at: the sweep waits
        return
    row.media_path = key
    row.media_content_type = content_type
    row.media_status = "stored"


def sweep_pending_media(older_than=timedelta(minutes=1), limit=100):
    """Re-enqueue downloads still pending after a while (storage was down, a job was lost); returns how many."""
    ids = db.session.scalars(
        sa.select(LineMessage.id)
        .where(LineMessage.media_status == "pending", LineMessage.updated_at < utcnow() - older_than)
        .order_by(LineMessage.id).limit(limit)
    ).all()
    for message_id in ids:
        schedule_download(message_id)
    return len(ids)
