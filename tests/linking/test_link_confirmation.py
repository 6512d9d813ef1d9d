"""Issue 12 item 11: a link made from the rich-menu form alone waits for the owner (確認待ち)."""
import sqlalchemy as sa

from crm.bookings import services as booking_services
from crm.conversations.models import LineFriend
from crm.extensions import db as _db
from crm.linking.models import LinkRequest, RequestReason, RequestStatus
from tests.bookings.helpers import bookable_shop, free_starts, visitor
from tests.factories import make_customer
from tests.linking.test_linking_flow import (
    CHECK,
    _friend_taps_check_bookings,
    _link_path,
)


def _hanako_with_a_booking(shop):
    hanako = make_customer(shop, family_name="山田", given_name="花子", family_name_kana="ヤマダ",
                           given_name_kana="ハナコ", phone="090-1234-5678")
    service = bookable_shop(shop)
    booking_services.book(shop, service, free_starts(shop, service)[0],
                          visitor(family_name="山田", given_name="花子", family_name_kana="ヤマダ",
                                  given_name_kana="ハナコ", phone="090-1234-5678"))
    _db.session.commit()
    return hanako, service


def _taps_check_again(client, line_shop, user):
    cid = line_shop.sandbox_channel["channel_id"]
    event = line_shop.sandbox.send(cid, user["user_id"], CHECK)["event"]
    assert line_shop.post_events(client, [event]).status_code == 200
    return line_shop.sandbox.sent(cid)[-1]["messages"][0]


def _form_link(client, line_shop):
    user, friend, answer = _friend_taps_check_bookings(client, line_shop)
    done = client.post_form(_link_path(answer), {"family_name": "山田", "given_name": "花子", "phone": "090-1234-5678"})
    assert done.status_code == 200
    return user, friend, done.get_data(as_text=True)


def test_a_form_link_by_name_and_phone_waits_and_shows_no_bookings(client, line_shop):
    hanako, _ = _hanako_with_a_booking(line_shop.shop)
    user, friend, html = _form_link(client, line_shop)
    assert 'data-outcome="pending"' in html
    _db.session.refresh(friend)
    assert friend.customer_id is None
    request = _db.session.scalars(sa.select(LinkRequest)).one()
    assert request.reason == RequestReason.UNCONFIRMED and request.candidate_ids == [hanako.id]
    assert request.status == RequestStatus.PENDING

    answer = _taps_check_again(client, line_shop, user)
    assert answer["type"] == "text"
    assert "確認待ち" in answer["text"]
    assert "山田" not in answer["text"] and "カット" not in answer["text"] and "ご予約（" not in answer["text"]


def test_the_owner_confirms_and_then_the_bookings_are_shown(client, auth, line_shop):
    hanako, _ = _hanako_with_a_booking(line_shop.shop)
    user, friend, _html = _form_link(client, line_shop)
    auth.login(line_shop.owner)
    listing = client.get("/line/friends/unlinked").get_data(as_text=True)
    assert "確認待ちの連携依頼" in listing and "山田 花子 様と連携" in listing
    assert "LINEログインで本人確認されていません" in listing
    request = _db.session.scalars(sa.select(LinkRequest)).one()
    assert client.post_form(f"/link-requests/{request.id}/resolve",
                            {"customer_id": str(hanako.id)}).status_code == 302
    _db.session.refresh(friend)
    assert friend.customer_id == hanako.id

    answer = _taps_check_again(client, line_shop, user)
    assert "山田 花子 様のご予約（1件）" in answer["text"] and "カット" in answer["text"]


def test_booking_through_line_login_confirms_a_waiting_link_at_once(client, line_shop):
    shop = line_shop.shop
    hanako, service = _hanako_with_a_booking(shop)
    _user, friend, _html = _form_link(client, line_shop)
    friend = _db.session.get(LineFriend, friend.id)
    # The booking page's LINE Login hands book() the signed-in friend (crm/bookings/public.py).
    result = booking_services.book(shop, service, free_starts(shop, service, count=2)[1],
                                   visitor(family_name="山田", given_name="花子", family_name_kana="ヤマダ",
                                           given_name_kana="ハナコ", phone="090-1234-5678"), friend=friend)
    _db.session.commit()
    assert result.linked and result.customer.id == hanako.id
    _db.session.refresh(friend)
    assert friend.customer_id == hanako.id
    request = _db.session.scalars(sa.select(LinkRequest)).one()
    assert request.status == RequestStatus.RESOLVED and request.resolved_customer_id == hanako.id


def test_a_shop_set_to_automatic_links_from_the_form_as_before(client, line_shop):
    line_shop.shop.link_automatically = True
    _db.session.commit()
    hanako, _ = _hanako_with_a_booking(line_shop.shop)
    user, friend, html = _form_link(client, line_shop)
    assert 'data-outcome="linked"' in html
    _db.session.refresh(friend)
    assert friend.customer_id == hanako.id
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(LinkRequest)) == 0
    answer = _taps_check_again(client, line_shop, user)
    assert "山田 花子 様のご予約（1件）" in answer["text"]


def test_the_owner_chooses_automatic_linking_on_the_booking_settings(client, auth, line_shop):
    auth.login(line_shop.owner)
    page = client.get("/settings/booking").get_data(as_text=True)
    assert 'id="linking"' in page and "氏名と電話番号を知っている人" in page
    assert client.post_form("/settings/booking/linking", {"mode": "auto"}).status_code == 302
    _db.session.refresh(line_shop.shop)
    assert line_shop.shop.link_automatically is True
    assert client.post_form("/settings/booking/linking", {"mode": "confirm"}).status_code == 302
    _db.session.refresh(line_shop.shop)
    assert line_shop.shop.link_automatically is False
    assert client.post_form("/settings/booking/linking", {"mode": "auto"}).status_code == 302
    _db.session.refresh(line_shop.shop)
    assert line_shop.shop.link_automatically is True
    # A tampered value changes nothing and says so.
    assert client.post_form("/settings/booking/linking", {"mode": "bogus"}).status_code == 302
    _db.session.refresh(line_shop.shop)
    assert line_shop.shop.link_automatically is True
    assert "連携の方法を選んでください。" in client.get("/settings/booking").get_data(as_text=True)


def test_staff_cannot_change_the_linking_setting(client, auth, line_shop):
    from tests.factories import make_staff

    auth.login(make_staff(line_shop.shop))
    assert client.post_form("/settings/booking/linking", {"mode": "auto"}).status_code in (403, 302)
    _db.session.refresh(line_shop.shop)
    assert line_shop.shop.link_automatically is False
