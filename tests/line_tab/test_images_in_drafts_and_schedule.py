"""Issue 13 item 1: drafts, approval and 送信予約 carry an image like text (signed URLs made when sent)."""
import io
from datetime import timedelta
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import time_machine
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from crm import jobs
from crm.conversations.models import SendStatus
from crm.database import utcnow
from crm.extensions import db as _db
from crm.line_tab import scheduling, times
from crm.line_tab.models import DraftStatus, LineDraft
from crm.staff.models import LineSendMode
from tests.factories import make_staff
from tests.line_tab.helpers import linked, outgoing, tab

HX = {"HX-Request": "true", "HX-Target": "customer-tabs"}


def _png(size=(60, 40)):
    out = io.BytesIO()
    Image.new("RGB", size, (0, 128, 255)).save(out, "PNG")
    return out.getvalue()


def _post(client, url, data, image=None, name="a.png"):
    form = {"csrf_token": client.csrf_token(), **data}
    if image is not None:
        form["image"] = FileStorage(io.BytesIO(image), filename=name)
    boundary, body = encode_multipart(MultiDict(form))
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}", headers=HX)


def _sent(line_shop):
    return [m for s in line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"]) for m in s["messages"]]


def _fetch(client, url):
    response = client.get(urlparse(url).path)
    try:
        return response.status_code, response.data
    finally:
        response.close()


def _stored(app):
    from pathlib import Path

    root = Path(app.config["MEDIA_STORAGE_DIR"])
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_draft_with_an_image_is_approved_and_the_sandbox_gets_the_image_then_the_text(app, client, auth, line_shop):
    customer, friend, _user = linked(line_shop)
    staff = make_staff(line_shop.shop, line_send_mode=LineSendMode.APPROVAL, name="見習い 花子")
    photo = _png()
    auth.login(staff)
    response = _post(client, f"/customers/{customer.id}/line/drafts", {"text": "仕上がりです", "action": "request"},
                     photo)
    assert response.status_code == 200, response.get_data(as_text=True)
    draft = _db.session.query(LineDraft).one()
    assert draft.status == DraftStatus.PENDING and draft.image_key and draft.image_preview_key
    assert _sent(line_shop) == []  # nothing is sent before the owner approves
    assert f"/line/drafts/{draft.id}/image" in tab(client, customer)
    preview = client.get(f"/line/drafts/{draft.id}/image")
    assert preview.status_code == 200 and preview.mimetype == "image/jpeg"
    preview.close()
    auth.logout()

    auth.login(line_shop.owner)
    assert f"/line/drafts/{draft.id}/image" in client.get("/line/approvals").get_data(as_text=True)
    response = _post(client, f"/line/drafts/{draft.id}/approve", {"version": draft.version, "mode": "send"})
    assert response.status_code == 200, response.get_data(as_text=True)
    sent = _sent(line_shop)
    assert [m["type"] for m in sent] == ["image", "text"] and sent[1]["text"] == "仕上がりです"
    auth.logout()
    assert _fetch(client, sent[0]["originalContentUrl"]) == (200, photo)  # as LINE fetches it
    image_row, text_row = outgoing()
    assert image_row.media_status == "stored" and image_row.approved_by_id == line_shop.owner.id
    assert image_row.sender_id == staff.id and text_row.sender_id == staff.id


def test_a_draft_keeps_its_image_when_edited_and_loses_it_when_removed(client, auth, line_shop):
    customer, friend, _user = linked(line_shop)
    auth.login(line_shop.owner)
    _post(client, f"/customers/{customer.id}/line/drafts", {"text": ""}, _png())
    draft = _db.session.query(LineDraft).one()
    assert draft.image_key
    _post(client, f"/line/drafts/{draft.id}", {"text": "本文を追加", "version": draft.version})
    _db.session.refresh(draft)
    assert draft.text == "本文を追加" and draft.image_key
    _post(client, f"/line/drafts/{draft.id}", {"text": "本文だけ", "version": draft.version, "remove_image": "1"})
    _db.session.refresh(draft)
    assert draft.text == "本文だけ" and draft.image_key is None


def test_a_bad_image_on_a_draft_or_schedule_is_refused_beside_the_composer_and_nothing_is_lost(app, client, auth,
                                                                                                 line_shop):
    customer, *_ = linked(line_shop)
    auth.login(line_shop.owner)
    for url in (f"/customers/{customer.id}/line/drafts", f"/customers/{customer.id}/line/schedule"):
        response = _post(client, url, {"text": "この文は残る", "preset": "tomorrow_9"}, b"%PDF-1.4 no", "doc.pdf")
        body = response.get_data(as_text=True)
        assert response.status_code == 422 and "画像として読み込めない" in body and "この文は残る" in body, url
    assert outgoing() == [] and _stored(app) == [] and _db.session.query(LineDraft).count() == 0


def test_a_scheduled_image_is_sent_by_the_tick_with_urls_signed_at_sending(app, client, auth, line_shop):
    customer, friend, _user = linked(line_shop)
    auth.login(line_shop.owner)
    day = (utcnow().astimezone(ZoneInfo("Asia/Tokyo")) + timedelta(days=40)).date().isoformat()
    photo = _png((80, 50))
    response = _post(client, f"/customers/{customer.id}/line/schedule",
                     {"text": "40日後のご案内", "client_key": "s-1", "date": day, "time": "10:00"}, photo)
    assert response.status_code == 200, response.get_data(as_text=True)
    (row,) = outgoing()
    assert row.status == SendStatus.SCHEDULED and row.message_type == "image"
    assert [m["type"] for m in row.payload["messages"]] == ["image", "text"]
    assert "mediaKey" in row.payload["messages"][0]  # keys, not URLs: signed when it is sent
    html = tab(client, customer)
    assert f"/line/media/{row.id}" in html and "40日後のご案内" in html
    auth.logout()
    due = times.local_to_utc(day, "10:00", "Asia/Tokyo")
    # 40 days on: a URL signed when it was scheduled would have expired (30 days); this one is fresh.
    with time_machine.travel(due + timedelta(seconds=30), tick=False):
        assert scheduling.tick()["released"] == 1
        jobs.commit()
        sent = _sent(line_shop)
        assert [m["type"] for m in sent] == ["image", "text"] and sent[1]["text"] == "40日後のご案内"
        assert _fetch(client, sent[0]["originalContentUrl"]) == (200, photo)
        assert _fetch(client, sent[0]["previewImageUrl"])[0] == 200
    _db.session.refresh(row)
    assert row.status == SendStatus.SENT


def test_editing_a_scheduled_image_keeps_the_image(line_shop):
    customer, friend, _user = linked(line_shop)
    from crm.line_platform.outgoing import store_image

    image = store_image(line_shop.shop.id, _png())
    due = utcnow() + timedelta(days=2)
    row = scheduling.schedule_text(friend, "", sender_id=line_shop.owner.id, scheduled_at=due, image=image)
    assert [m["type"] for m in row.payload["messages"]] == ["image"]
    scheduling.edit_scheduled(row, "文を追加", due)
    assert [m["type"] for m in row.payload["messages"]] == ["image", "text"]
    assert row.payload["messages"][0]["mediaKey"] == image.key
