"""Issue 15 item 2: a broadcast carries one image (the same for everyone; placeholders only in its text)."""
import io
from urllib.parse import urlparse

import sqlalchemy as sa
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from crm.broadcasts.models import Broadcast, BroadcastStatus
from crm.conversations.models import LineMessage, Origin
from crm.extensions import db
from tests.broadcasts.helpers import friends


def _png():
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _form(**extra):
    return {"title": "画像つきのご案内", "op": "and", "g0-op": "and", **extra}


def _post(client, url, data, image=None, name="a.png"):
    form = {"csrf_token": client.csrf_token(), **data}
    if image is not None:
        form["image"] = FileStorage(io.BytesIO(image), filename=name)
    boundary, body = encode_multipart(MultiDict(form))
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _calls(line_shop):
    return line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])


def _fetch(client, url):
    response = client.get(urlparse(url).path)
    try:
        return response.status_code, response.data
    finally:
        response.close()


def test_a_multicast_with_an_image_reaches_every_recipient(client, auth, line_shop):
    people = friends(line_shop, 3)
    auth.login(line_shop.owner)
    photo = _png()
    response = _post(client, "/broadcasts/new", _form(action="submit", when="now", text="{店舗名}の新メニューです"), photo)
    assert response.status_code == 302, response.get_data(as_text=True)
    broadcast = db.session.scalars(sa.select(Broadcast)).one()
    assert broadcast.status == BroadcastStatus.DONE and broadcast.mode == "multicast" and broadcast.image_key
    deliveries = _calls(line_shop)  # one entry per recipient, from one multicast request
    assert {d["to"] for d in deliveries} == {user["user_id"] for _c, _f, user in people}
    assert {d["via"] for d in deliveries} == {"multicast"} and len({d["request_id"] for d in deliveries}) == 1
    assert all([m["type"] for m in d["messages"]] == ["image", "text"] for d in deliveries)
    received = deliveries[0]["messages"]
    assert "{店舗名}" not in received[1]["text"] and "新メニュー" in received[1]["text"]
    auth.logout()
    assert _fetch(client, received[0]["originalContentUrl"]) == (200, photo)
    auth.login(line_shop.owner)
    history = db.session.scalars(sa.select(LineMessage).where(LineMessage.origin == Origin.BROADCAST)).all()
    assert len(history) == 3 and all(m.message_type == "image" and m.media_status == "stored" for m in history)
    tab = client.get(f"/customers/{people[0][0].id}/line", headers={"HX-Request": "true", "HX-Target": "customer-tabs"})
    html = tab.get_data(as_text=True)
    assert "/line/media/" in html
    assert "の新メニューです" in html and "一斉配信" in html
    page = client.get(f"/broadcasts/{broadcast.id}").get_data(as_text=True)
    assert f"/broadcasts/{broadcast.id}/image" in page


def test_pushes_with_placeholders_carry_the_same_image(client, auth, line_shop):
    friends(line_shop, 2)
    auth.login(line_shop.owner)
    response = _post(client, "/broadcasts/new", _form(action="submit", when="now", text="{お客様名}様へ"), _png())
    assert response.status_code == 302
    broadcast = db.session.scalars(sa.select(Broadcast)).one()
    assert broadcast.mode == "push"
    calls = _calls(line_shop)
    assert len(calls) == 2
    assert all([m["type"] for m in c["messages"]] == ["image", "text"] for c in calls)
    assert len({c["messages"][1]["text"] for c in calls}) == 2  # the text differs, the image does not
    assert len({c["messages"][0]["originalContentUrl"] for c in calls}) == 1


def test_an_image_alone_is_a_broadcast_and_a_bad_image_is_refused_beside_its_field(app, client, auth, line_shop):
    friends(line_shop, 1)
    auth.login(line_shop.owner)
    response = _post(client, "/broadcasts/new", _form(action="save", text="この文は残る"), b"not an image", "x.pdf")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "画像として読み込めない" in body and "この文は残る" in body
    assert db.session.scalars(sa.select(Broadcast)).all() == []
    assert _post(client, "/broadcasts/new", _form(action="save", text=""), _png()).status_code == 302
    broadcast = db.session.scalars(sa.select(Broadcast)).one()
    assert broadcast.image_key and broadcast.text == ""
    # Edited without a new file: the image stays; 「画像を外す」 with no text: refused, the image kept.
    assert _post(client, f"/broadcasts/{broadcast.id}/edit", _form(action="save", text="本文")).status_code == 302
    db.session.refresh(broadcast)
    assert broadcast.image_key and broadcast.text == "本文"
    response = _post(client, f"/broadcasts/{broadcast.id}/edit", _form(action="save", text="", remove_image="1"))
    assert response.status_code == 422
    db.session.refresh(broadcast)
    assert broadcast.image_key
