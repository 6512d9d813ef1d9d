"""Item 1, 2 and 8 of issue 13: images (Pillow previews, signed URLs), stickers from LINE's list, ノート."""
import io
import re
from datetime import timedelta
from urllib.parse import urlparse

import sqlalchemy as sa
import time_machine
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from crm import jobs
from crm.conversations.models import Direction, LineMessage
from crm.extensions import db as _db
from crm.line_platform.sending import deliver_in_order
from crm.line_tab import stickers
from tests.factories import make_staff
from tests.line_tab.helpers import htmx_post, linked, outgoing, tab


def _jpeg(size=(2400, 1600), quality=95):
    image = Image.effect_noise(size, 90).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _png(size=(40, 30)):
    out = io.BytesIO()
    Image.new("RGBA", size, (255, 0, 0, 128)).save(out, "PNG")
    return out.getvalue()


def _send(client, customer, data, image=None, name="photo.jpg"):
    form = {"csrf_token": client.csrf_token(), "client_key": data.pop("client_key", "k-" + name), **data}
    if image is not None:
        form["image"] = FileStorage(io.BytesIO(image), filename=name)
    # Encoded here, in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart(MultiDict(form))
    return client.post(f"/customers/{customer.id}/line/messages", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}",
                       headers={"HX-Request": "true", "HX-Target": "customer-tabs"})


def _fetch(client, url):
    """GET a signed URL as LINE does (no sign-in); (status, mimetype, body), the response closed."""
    response = client.get(urlparse(url).path)
    try:
        return response.status_code, response.mimetype, response.data
    finally:
        response.close()


def _sent(line_shop):
    return [m for s in line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"]) for m in s["messages"]]


def _stored_files(app):
    from pathlib import Path

    root = Path(app.config["MEDIA_STORAGE_DIR"])
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- images -------------------------------------------------------------------------------------
def test_an_image_is_sent_with_a_pillow_preview_through_signed_urls(app, client, auth, line_shop):
    customer, friend, user = linked(line_shop)
    auth.login(line_shop.owner)
    photo = _jpeg()
    response = _send(client, customer, {"text": "仕上がりです"}, photo)
    assert response.status_code == 200, response.get_data(as_text=True)

    sent = _sent(line_shop)
    assert [m["type"] for m in sent] == ["image", "text"]  # the image, then its text
    image = sent[0]
    original, preview = image["originalContentUrl"], image["previewImageUrl"]
    assert original.startswith(app.config["PUBLIC_BASE_URL"]) and original != preview

    auth.logout()
    assert _fetch(client, original) == (200, "image/jpeg", photo)  # as LINE fetches it: no sign-in
    status, mimetype, small = _fetch(client, preview)
    assert status == 200 and mimetype == "image/jpeg" and len(small) <= 1024 * 1024
    assert max(Image.open(io.BytesIO(small)).size) <= 1024

    row = outgoing()[0]
    assert row.message_type == "image" and row.media_status == "stored" and row.media_path.endswith(".jpg")
    assert "mediaKey" in row.payload["messages"][0]  # keys are kept, URLs are signed when sent
    auth.login(line_shop.owner)
    assert f'/line/media/{row.id}' in tab(client, customer)  # shown in the conversation


def test_an_image_and_its_text_are_delivered_by_one_job_in_that_order(client, auth, line_shop, monkeypatch):
    # Two jobs would run side by side (threads, two workers): the text could reach the phone first.
    customer, *_ = linked(line_shop)
    waiting = []
    monkeypatch.setattr(jobs, "enqueue", lambda job, *args, **kwargs: waiting.append((jobs.job_path(job), args)))
    auth.login(line_shop.owner)
    assert _send(client, customer, {"text": "仕上がりです"}, _jpeg()).status_code == 200
    image, words = sorted(outgoing(), key=lambda m: m.id)
    assert (image.message_type, words.text) == ("image", "仕上がりです")
    assert waiting == [(jobs.job_path(deliver_in_order), ([image.id, words.id],))]
    jobs.run_job(*waiting[0][:1], *waiting[0][1])
    assert [m["type"] for m in _sent(line_shop)] == ["image", "text"]


def test_a_png_is_sent_and_its_preview_is_jpeg(client, auth, line_shop):
    customer, *_ = linked(line_shop)
    auth.login(line_shop.owner)
    assert _send(client, customer, {"text": ""}, _png(), "shot.png").status_code == 200
    image = _sent(line_shop)[0]
    assert _fetch(client, image["originalContentUrl"])[1] == "image/png"
    assert _fetch(client, image["previewImageUrl"])[1] == "image/jpeg"


def test_a_wrong_or_expired_signature_is_refused(client, auth, line_shop):
    customer, *_ = linked(line_shop)
    auth.login(line_shop.owner)
    _send(client, customer, {"text": ""}, _png(), "a.png")
    url = _sent(line_shop)[0]["originalContentUrl"]
    assert _fetch(client, url)[0] == 200
    assert _fetch(client, url[:-3] + "xyz")[0] == 403
    with time_machine.travel(timedelta(days=31)):
        assert _fetch(client, url)[0] == 403


def test_bad_images_are_refused_beside_the_composer_and_nothing_is_stored(app, client, auth, line_shop):
    customer, *_ = linked(line_shop)
    auth.login(line_shop.owner)
    cases = [
        (b"%PDF-1.4 not an image", "doc.pdf", "画像として読み込めない"),
        (_jpeg()[:5000], "cut.jpg", "画像として読み込めない"),
        (_gif(), "anim.gif", "JPEGとPNGだけ"),
        (b"\xff\xd8" + b"0" * (10 * 1024 * 1024), "huge.jpg", "大きすぎます"),
    ]
    for data, name, expected in cases:
        response = _send(client, customer, {"text": "この文は残る", "client_key": name}, data, name)
        body = response.get_data(as_text=True)
        assert response.status_code == 422, name
        assert expected in body and "この文は残る" in body, name
    assert _stored_files(app) == [] and outgoing() == [] and _sent(line_shop) == []


def _gif():
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "GIF")
    return out.getvalue()


def test_the_composer_takes_files_and_names_the_limits(client, auth, line_shop):
    customer, *_ = linked(line_shop)
    auth.login(line_shop.owner)
    page = tab(client, customer)
    assert 'enctype="multipart/form-data"' in page and 'name="image"' in page
    assert 'accept="image/jpeg,image/png"' in page and "data-image-composer" in page


# -- stickers -----------------------------------------------------------------------------------
def test_the_shipped_list_names_its_source_and_has_every_package():
    catalog = stickers.catalog()
    assert catalog["source"] == "https://developers.line.biz/en/docs/messaging-api/sticker-list/"
    assert [p.package_id for p in catalog["packages"]] == [
        "446", "789", "1070", "6136", "6325", "6359", "6362", "6370", "8515", "8522", "8525", "11537", "11538", "11539"]
    assert stickers.find("446", "1988") and stickers.find("446", "2027") and not stickers.find("446", "2028")
    assert stickers.find("11539", "52114149") and not stickers.find("1", "1")
    assert stickers.find("8525", "16581291").title == "ありがとう"
    assert stickers.find("446", "1988").title == "スタンプ 446-1988"


def test_the_picker_shows_labelled_tiles_and_loads_nothing_from_line(client, auth, line_shop):
    customer, *_ = linked(line_shop)
    auth.login(line_shop.owner)
    picker = client.htmx_get(f"/customers/{customer.id}/line/stickers", "sticker-picker").get_data(as_text=True)
    assert "スタンプ 446-1988" in picker and "ありがとう" in picker
    assert len(re.findall(r'class="sticker-tile"', picker)) == 432
    assert "line-scdn" not in picker and "<img" not in picker
    # A tile's label and ids are two words to a screen reader (「OK 789-10858」, not 「OK789-10858」).
    assert '<span class="sticker-label">OK</span> <span class="muted sticker-ids">789-10858</span>' in picker


def test_a_sticker_is_sent_and_shown_as_a_tile(client, auth, line_shop):
    customer, *_ = linked(line_shop)
    auth.login(line_shop.owner)
    response = htmx_post(client, f"/customers/{customer.id}/line/stickers", {"sticker": "8525:16581291"})
    assert response.status_code == 200
    assert _sent(line_shop) == [{"type": "sticker", "packageId": "8525", "stickerId": "16581291"}]
    assert "ありがとう" in response.get_data(as_text=True)


def test_a_sticker_not_in_the_list_is_refused(client, auth, line_shop):
    customer, *_ = linked(line_shop)
    auth.login(line_shop.owner)
    for value in ("1:1", "446:2028", "garbage"):
        response = htmx_post(client, f"/customers/{customer.id}/line/stickers", {"sticker": value, "text": "下書き"})
        assert response.status_code == 422 and "このスタンプは送信できません" in response.get_data(as_text=True)
        assert "下書き" in response.get_data(as_text=True)
    assert _sent(line_shop) == [] and outgoing() == []


def test_incoming_stickers_show_their_keywords_or_the_word_sticker(client, auth, line_shop):
    customer, friend, user = linked(line_shop)
    cid = line_shop.sandbox_channel["channel_id"]
    auth.login(line_shop.owner)
    for n, extra in enumerate(({"keywords": ["Hello", "wave", "hi"]}, {})):
        event = {"type": "message", "mode": "active", "timestamp": 1_700_000_000_000 + n,
                 "webhookEventId": f"01STICKER{n:017d}", "replyToken": f"st{n}",
                 "source": {"type": "user", "userId": user["user_id"]}, "deliveryContext": {"isRedelivery": False},
                 "message": {"id": f"77{n}", "type": "sticker", "packageId": "11537", "stickerId": "52002738",
                             "stickerResourceType": "STATIC", **extra}}
        assert line_shop.post_events(client, [event]).status_code == 200
    page = tab(client, customer)
    assert "Hello・wave・hi" in page
    assert re.search(r'<span class="sticker-label">スタンプ</span>', page)
    assert cid


# -- ノート -------------------------------------------------------------------------------------
def test_notes_are_inline_with_their_author_and_never_sent(client, auth, line_shop):
    customer, friend, user = linked(line_shop)
    staff = make_staff(line_shop.shop, name="佐藤")
    auth.login(staff)
    response = htmx_post(client, f"/customers/{customer.id}/line/notes", {"note": "カラー剤のアレルギーあり"})
    assert response.status_code == 200
    auth.logout()
    auth.login(line_shop.owner)
    htmx_post(client, f"/customers/{customer.id}/line/notes", {"note": "次回は10%引き"})
    sent = htmx_post(client, f"/customers/{customer.id}/line/messages", {"text": "ご来店ありがとうございました"})
    assert sent.status_code == 200, sent.get_data(as_text=True)[-3000:]

    page = tab(client, customer)
    assert page.index("カラー剤のアレルギーあり") < page.index("次回は10%引き") < page.index("ご来店ありがとうございました")
    assert "佐藤" in page and "ノート" in page
    notes = _db.session.scalars(sa.select(LineMessage).where(LineMessage.direction == Direction.NOTE)).all()
    assert len(notes) == 2 and {n.sender_id for n in notes} == {staff.id, line_shop.owner.id}
    assert all(n.status is None and n.retry_key is None for n in notes)
    texts = [m.get("text") for m in _sent(line_shop)]
    assert texts == ["ご来店ありがとうございました"]  # the sandbox got the message, and no note


def test_notes_come_by_polling_and_leave_unread_counts_alone(client, auth, line_shop):
    customer, friend, user = linked(line_shop)
    auth.login(line_shop.owner)
    last = _db.session.scalar(sa.select(sa.func.max(LineMessage.id))) or 0
    htmx_post(client, f"/customers/{customer.id}/line/notes", {"note": "電話で確認済み"})
    _db.session.expire_all()
    assert friend.unread_since is None and friend.unread_count == 0  # a note is nothing to read
    assert "yellow-bar" not in client.get("/line/unread-bar").get_data(as_text=True)
    poll = client.htmx_get(f"/customers/{customer.id}/line/poll?after={last}", "conversation").get_data(as_text=True)
    assert "電話で確認済み" in poll and "ノート" in poll
    inbox = client.get("/line/inbox").get_data(as_text=True)
    assert "電話で確認済み" not in inbox  # the inbox shows the last message, never a note


def test_an_empty_note_is_refused_beside_the_form(client, auth, line_shop):
    customer, *_ = linked(line_shop)
    auth.login(line_shop.owner)
    response = htmx_post(client, f"/customers/{customer.id}/line/notes", {"note": "   "})
    assert response.status_code == 422 and "ノートを入力してください" in response.get_data(as_text=True)


def test_the_export_marks_notes(client, auth, line_shop):
    customer, *_ = linked(line_shop)
    auth.login(line_shop.owner)
    htmx_post(client, f"/customers/{customer.id}/line/notes", {"note": "内部メモ"})
    csv_text = client.get(f"/customers/{customer.id}/line/export.csv").get_data(as_text=True)
    row = next(line for line in csv_text.splitlines() if "内部メモ" in line)
    assert ",ノート," in row


def test_the_sandbox_phone_fetches_the_signed_image_like_line_and_fails_visibly_without_it(
        app, client, auth, line_shop, monkeypatch):
    import requests

    from tests.servers import ServerThread

    customer, *_ = linked(line_shop)
    auth.login(line_shop.owner)
    with ServerThread(app, quiet=True) as server:
        monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", server.url)
        assert _send(client, customer, {"text": ""}, _jpeg((800, 600)), "p.jpg").status_code == 200
        image = _sent(line_shop)[0]
        phone = f"{line_shop.sandbox.url}/phone/api/media"
        shown = requests.get(phone, params={"url": image["previewImageUrl"]}, timeout=10)
        assert shown.status_code == 200 and shown.headers["Content-Type"] == "image/jpeg"
        assert Image.open(io.BytesIO(shown.content)).size == (800, 600)
    broken = requests.get(phone, params={"url": image["previewImageUrl"]}, timeout=10)  # the app is gone
    assert broken.status_code == 502 and "unreachable" in broken.json()["error"]
