"""End to end on S3: media a customer sends through the LINE sandbox lands in the bucket and is served back."""
import base64
import logging
from datetime import timedelta

import sqlalchemy as sa

from crm import jobs
from crm.conversations.models import LineMessage
from crm.database import utcnow
from crm.extensions import db as _db
from crm.line_tab import scheduling
from tests.storage.conftest import closed_port_url

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _send(client, line_shop, user, message):
    built = line_shop.sandbox.send(line_shop.sandbox_channel["channel_id"], user["user_id"],
                                   {"type": "message", "message": message})["event"]
    assert line_shop.post_events(client, [built]).status_code == 200
    row = _db.session.scalars(sa.select(LineMessage).order_by(LineMessage.id.desc())).first()
    _db.session.refresh(row)
    return row


def _image(data=PNG, content_type="image/png"):
    return {"type": "image", "content_base64": base64.b64encode(data).decode(), "content_type": content_type}


def test_image_is_stored_in_s3_and_served_through_the_media_route(client, auth, line_shop, s3_app_config, s3_bucket,
                                                                   tmp_path):
    bucket, s3 = s3_bucket
    user = line_shop.sandbox.add_user(display_name="写真の人")
    message = _send(client, line_shop, user, _image())
    assert message.media_status == "stored" and message.media_path == f"{line_shop.shop.id}/{message.line_message_id}.png"
    stored = s3.get_object(Bucket=bucket, Key=f"crm-test/{message.media_path}")
    assert stored["Body"].read() == PNG and stored["ContentType"] == "image/png"
    assert not (tmp_path / "media").exists()  # nothing on the local disk

    assert client.get(f"/line/media/{message.id}").status_code == 302  # signed out: to the sign-in page
    auth.login(line_shop.owner)
    with client.get(f"/line/media/{message.id}") as response:
        assert response.status_code == 200 and response.data == PNG
        assert response.mimetype == "image/png" and response.content_length == len(PNG)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"].startswith("private")
    with client.get(f"/line/media/{message.id}", headers={"Range": "bytes=1-3"}) as response:
        assert response.status_code == 206 and response.data == PNG[1:4]
        assert response.headers["Content-Range"] == f"bytes 1-3/{len(PNG)}"
    with client.get(f"/line/media/{message.id}", headers={"Range": "bytes=500-"}) as response:
        assert response.status_code == 416


def test_a_file_downloads_with_its_japanese_name(client, auth, line_shop, s3_app_config):
    user = line_shop.sandbox.add_user(display_name="書類の人")
    message = _send(client, line_shop, user, {"type": "file", "fileName": "問診票.pdf", "fileSize": 9,
                                              "content_base64": base64.b64encode(b"%PDF-1.7\n").decode(),
                                              "content_type": "application/pdf"})
    assert message.media_status == "stored"
    auth.login(line_shop.owner)
    with client.get(f"/line/media/{message.id}") as response:
        assert response.status_code == 200 and response.data == b"%PDF-1.7\n"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment") and "filename*=UTF-8''%E5%95%8F%E8%A8%BA%E7%A5%A8.pdf" in disposition


def test_media_of_another_shop_or_gone_from_the_bucket_is_404(client, auth, line_shop, s3_app_config, s3_bucket):
    from tests import factories

    bucket, s3 = s3_bucket
    message = _send(client, line_shop, line_shop.sandbox.add_user(display_name="A"), _image())
    other_shop, other_owner = factories.make_shop()
    auth.login(other_owner)
    assert client.get(f"/line/media/{message.id}").status_code == 404
    auth.logout()
    auth.login(line_shop.owner)
    s3.delete_object(Bucket=bucket, Key=f"crm-test/{message.media_path}")
    assert client.get(f"/line/media/{message.id}").status_code == 404
    message.media_path = f"{other_shop.id}/{message.line_message_id}.png"  # a key of another shop: refused
    _db.session.flush()
    assert client.get(f"/line/media/{message.id}").status_code == 404


def test_unreachable_s3_keeps_the_message_pending_then_the_tick_stores_it(client, auth, line_shop, s3_app_config,
                                                                          app, monkeypatch, caplog, s3_bucket):
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", closed_port_url())
    user = line_shop.sandbox.add_user(display_name="待つ人")
    with caplog.at_level(logging.ERROR, logger="crm.line_platform.media"):
        message = _send(client, line_shop, user, _image())
    assert message.media_status == "pending" and message.media_path is None
    [record] = [r for r in caplog.records if r.name == "crm.line_platform.media"]
    line = record.getMessage()
    assert "S3_ENDPOINT_URL" in line and "unreachable" in line and "\n" not in line and record.exc_info is None
    assert "S3_ENDPOINT_URL" in message.payload["media_error"]

    # The endpoint is fixed; a minute later the tick retries the download.
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", s3_app_config.endpoint_url)
    assert scheduling.tick()["media"] == 0  # too fresh: its own job may still be on its way
    message.updated_at = utcnow() - timedelta(minutes=2)
    _db.session.flush()
    assert scheduling.tick()["media"] == 1
    jobs.commit()
    _db.session.refresh(message)
    assert message.media_status == "stored"
    auth.login(line_shop.owner)
    assert client.get(f"/line/media/{message.id}").data == PNG


def test_s3_down_while_serving_is_503_not_a_traceback(client, auth, line_shop, s3_app_config, app, monkeypatch,
                                                      caplog):
    message = _send(client, line_shop, line_shop.sandbox.add_user(display_name="B"), _image())
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", closed_port_url())
    auth.login(line_shop.owner)
    with caplog.at_level(logging.ERROR, logger="crm.storage.serving"):
        assert client.get(f"/line/media/{message.id}").status_code == 503
    assert any("S3_ENDPOINT_URL" in r.getMessage() for r in caplog.records if r.name == "crm.storage.serving")
