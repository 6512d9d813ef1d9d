"""定型文: the owner's list, placeholders filled from the ledger, the picker's items, unfilled placeholders refused."""
from datetime import datetime, timedelta, timezone

import time_machine

from crm.bookings.models import Booking
from crm.extensions import db as _db
from crm.line_tab.saved_replies import SavedReply, fill
from tests.bookings.helpers import make_service
from tests.factories import make_customer, make_friend, make_staff

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)


def _reply(shop, title="予約確認", body="{お客様名}様、{店舗名}です。次回は{次回予約}です。"):
    reply = SavedReply(shop_id=shop.id, title=title, body=body)
    _db.session.add(reply)
    _db.session.flush()
    return reply


def test_the_owner_manages_the_list(client, auth, shop):
    the_shop, owner = shop
    auth.login(owner)
    response = client.post_form("/line/saved-replies", {"title": "お礼", "body": "{お客様名}様、ありがとうございました。"})
    assert response.status_code == 302
    page = client.get("/line/saved-replies").get_data(as_text=True)
    assert "お礼" in page and "{お客様名}様、ありがとうございました。" in page
    reply = _db.session.query(SavedReply).one()
    client.post_form(f"/line/saved-replies/{reply.id}", {"title": "お礼（来店後）", "body": "またどうぞ"})
    _db.session.refresh(reply)
    assert (reply.title, reply.body) == ("お礼（来店後）", "またどうぞ")
    client.post_form(f"/line/saved-replies/{reply.id}/delete")
    assert _db.session.query(SavedReply).count() == 0


def test_bad_input_is_shown_beside_the_field_and_kept(client, auth, shop):
    the_shop, owner = shop
    _reply(the_shop, title="重複")
    auth.login(owner)
    response = client.post_form("/line/saved-replies", {"title": "", "body": "本文だけ"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "タイトルを入力してください。" in html and "本文だけ" in html
    response = client.post_form("/line/saved-replies", {"title": "重複", "body": "x"})
    assert response.status_code == 422 and "同じタイトルの定型文があります。" in response.get_data(as_text=True)
    assert _db.session.query(SavedReply).count() == 1


def test_staff_use_the_list_but_do_not_edit_it(client, auth, shop):
    the_shop, _owner = shop
    reply = _reply(the_shop)
    auth.login(make_staff(the_shop))
    page = client.get("/line/saved-replies").get_data(as_text=True)
    assert "予約確認" in page and 'action="/line/saved-replies"' not in page
    client.post_form("/line/saved-replies", {"title": "x", "body": "y"})
    client.post_form(f"/line/saved-replies/{reply.id}/delete")
    assert _db.session.query(SavedReply).count() == 1


@time_machine.travel(NOW, tick=False)
def test_the_picker_fills_placeholders_from_the_ledger(client, auth, shop):
    the_shop, owner = shop
    _reply(the_shop)
    customer = make_customer(the_shop, family_name="山田", given_name="花子")
    friend = make_friend(the_shop, customer=customer)
    service = make_service(the_shop, name="カット")
    start = datetime(2026, 12, 5, 5, 0, tzinfo=timezone.utc)  # 14:00 in Tokyo
    _db.session.add(Booking(shop_id=the_shop.id, customer_id=customer.id, service_id=service.id, service_name="カット",
                            price_yen=4400, starts_at=start, ends_at=start + timedelta(hours=1), family_name="山田",
                            phone="09011112222"))
    _db.session.flush()
    auth.login(make_staff(the_shop))
    items = client.get(f"/line/friends/{friend.id}/saved-replies").get_json()["items"]
    assert items == [{"id": items[0]["id"], "title": "予約確認", "missing": [],
                      "text": f"山田 花子様、{the_shop.name}です。次回は12月5日(土) 14:00 カットです。"}]


def test_a_placeholder_without_a_value_is_shown_and_never_sent(client, auth, line_shop):
    _reply(line_shop.shop)
    customer = make_customer(line_shop.shop, family_name="佐藤", given_name="")
    friend = make_friend(line_shop.shop, customer=customer)
    auth.login(line_shop.owner)
    items = client.get(f"/line/friends/{friend.id}/saved-replies").get_json()["items"]
    assert items[0]["missing"] == ["{次回予約}"] and "{次回予約}" in items[0]["text"]
    tab = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert f'data-saved-replies="/line/friends/{friend.id}/saved-replies"' in tab and "data-picker-missing" in tab
    response = client.post_form(f"/customers/{customer.id}/line/messages",
                                {"text": items[0]["text"], "client_key": "p1"},
                                headers={"HX-Request": "true", "HX-Target": "customer-tabs"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "{次回予約} に入る情報がありません" in html and "佐藤様" in html  # the text is kept
    from tests.line_tab.helpers import outgoing
    assert outgoing() == []


def test_an_unlinked_friend_is_named_by_their_line_name(shop):
    the_shop, _owner = shop
    assert fill("{お客様名}さん", {"{お客様名}": "ゆみ"}) == ("ゆみさん", [])
    assert fill("{店舗名}{店舗名}{次回予約}", {"{店舗名}": "A", "{次回予約}": None}) == ("AA{次回予約}", ["{次回予約}"])


def test_the_picker_answers_in_a_fixed_number_of_queries(client, auth, shop, count_queries):
    the_shop, owner = shop
    friend = make_friend(the_shop, customer=make_customer(the_shop))
    auth.login(owner)
    counts = []
    for n in (1, 20):
        while _db.session.query(SavedReply).count() < n:
            _reply(the_shop, title=f"t{_db.session.query(SavedReply).count()}")
        with count_queries() as statements:
            assert len(client.get(f"/line/friends/{friend.id}/saved-replies").get_json()["items"]) == n
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
