"""The public booking page: menu, free times, the form and its errors, plain bookings, confirmation."""
from datetime import timedelta

import sqlalchemy as sa

from crm.bookings import services, slots
from crm.bookings.models import Booking, BookingSlot, BookingSource
from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.line_platform.services import channel_for_shop
from crm.linking.models import LinkRequest
from tests.bookings.helpers import (
    VISITOR,
    bookable_shop,
    csrf_from,
    free_starts,
    make_service,
    post_booking,
    start_param,
)
from tests.factories import make_customer, make_friend, make_shop


def _html(response):
    return response.get_data(as_text=True)


def _time_link(shop, service, start):
    return f'href="/book/{shop.booking_key}/form?service={service.id}&amp;start={start_param(start)}"'


def _count(db, model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_the_menu_with_prices_and_durations(client, shop, db):
    salon = shop[0]
    bookable_shop(salon)
    make_service(salon, name="カット＋カラー", minutes=120, price=9900)
    make_service(salon, name="休止中メニュー", minutes=30, price=1000, active=False)
    html = _html(client.get(f"/book/{salon.booking_key}"))
    assert salon.name in html
    assert "カット" in html and "¥4,400" in html and "1時間" in html
    assert "カット＋カラー" in html and "¥9,900" in html and "2時間" in html
    assert "休止中メニュー" not in html
    assert 'name="viewport"' in html


def test_an_unknown_booking_key_is_404(client, db):
    assert client.get("/book/not-a-shop").status_code == 404
    assert client.get("/book/not-a-shop/form?service=1&start=2030-01-01T10:00").status_code == 404


def test_choosing_a_service_shows_days_and_free_times(client, shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    first = free_starts(salon, cut)[0]
    response = client.get(f"/book/{salon.booking_key}", query_string={"service": cut.id})
    html = _html(response)
    assert "日時を選んでください" in html
    assert html.count('class="day-chip') == 14
    assert _time_link(salon, cut, first) in html
    assert first.strftime("%H:%M") in html
    another_shop, _ = make_shop()
    foreign = make_service(another_shop)
    response = client.get(f"/book/{salon.booking_key}", query_string={"service": foreign.id})
    assert response.status_code == 302  # another shop's service is not on this menu


def test_the_form_shows_the_chosen_service_and_time(client, shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    start = free_starts(salon, cut)[0]
    html = _html(client.get(f"/book/{salon.booking_key}/form",
                            query_string={"service": cut.id, "start": start_param(start)}))
    for label in ("姓", "名", "セイ", "メイ", "携帯電話番号"):
        assert f">{label}</label>" in html
    assert "カット" in html and "¥4,400" in html and start.strftime("%H:%M") in html
    assert 'type="tel"' in html
    assert "LINE連携する" not in html  # no LINE Login channel set up


def test_per_field_errors_in_japanese(client, shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    start = free_starts(salon, cut)[0]
    response = post_booking(client, salon, cut, start, family_name="", given_name="", family_name_kana="",
                            given_name_kana="", phone="")
    assert response.status_code == 422
    html = _html(response)
    for message in ("姓を入力してください。", "名を入力してください。", "セイを入力してください。",
                    "メイを入力してください。", "携帯電話番号を入力してください。"):
        assert message in html
    response = post_booking(client, salon, cut, start, family_name_kana="Ito", phone="12345")
    html = _html(response)
    assert "フリガナはカタカナまたはひらがなで入力してください。" in html
    assert "電話番号として正しくありません（例: 090-1234-5678）。" in html
    assert 'aria-invalid="true"' in html
    assert _count(db, Booking) == 0


def test_a_plain_booking_creates_the_customer_and_confirms(client, shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    start = free_starts(salon, cut)[0]
    response = post_booking(client, salon, cut, start)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/book/{salon.booking_key}/done")
    html = _html(client.get(response.headers["Location"]))
    assert "ご予約を承りました" in html
    assert "伊藤 さくら 様" in html and "カット" in html and "¥4,400" in html
    assert f"{start:%H:%M}〜{start + timedelta(minutes=60):%H:%M}" in html

    booking = db.session.scalars(sa.select(Booking)).one()
    customer = db.session.get(Customer, booking.customer_id)
    assert (customer.family_name, customer.given_name, customer.family_name_kana, customer.given_name_kana) == (
        "伊藤", "さくら", "いとう", "サクラ")
    assert customer.phone_e164 == "+819033334444" and customer.kana_norm == "イトウサクラ"
    assert booking.source == BookingSource.WEB and booking.friend_id is None
    assert booking.starts_at == start and booking.price_yen == 4400 and booking.service_name == "カット"
    assert _count(db, BookingSlot, BookingSlot.booking_id == booking.id) == 2
    assert _count(db, LineFriend) == 0 and _count(db, LinkRequest) == 0
    assert not slots.is_free(salon, cut, start)
    # The time is gone from the page.
    html = _html(client.get(f"/book/{salon.booking_key}", query_string={"service": cut.id, "date": start.date().isoformat()}))
    assert _time_link(salon, cut, start) not in html


def test_the_same_phone_and_name_is_the_same_customer(client, shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    known = make_customer(salon, family_name="伊藤", given_name="さくら", family_name_kana="イトウ",
                          given_name_kana="サクラ", phone="09033334444")
    linked_friend = make_friend(salon, known)
    start = free_starts(salon, cut)[0]
    post_booking(client, salon, cut, start, family_name="伊藤 ", given_name="さくら")
    booking = db.session.scalars(sa.select(Booking)).one()
    assert booking.customer_id == known.id
    assert db.session.get(LineFriend, linked_friend.id).customer_id == known.id  # untouched


def test_the_same_phone_with_another_name_is_a_new_customer_and_nothing_is_linked(client, shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    known = make_customer(salon, family_name="伊藤", given_name="健", family_name_kana="イトウ",
                          given_name_kana="ケン", phone="090-3333-4444")
    start = free_starts(salon, cut)[0]
    post_booking(client, salon, cut, start)
    booking = db.session.scalars(sa.select(Booking)).one()
    assert booking.customer_id != known.id
    assert _count(db, Customer, Customer.phone_e164 == "+819033334444") == 2
    assert _count(db, LinkRequest) == 0


def test_a_time_that_is_not_free_is_refused(client, shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    start = free_starts(salon, cut)[0]
    services.book(salon, cut, start, services.Visitor("先客", "様", "センキャク", "サマ", "090-1111-0000"))
    response = client.get(f"/book/{salon.booking_key}/form", query_string={"service": cut.id, "start": start_param(start)})
    assert response.status_code == 302
    assert "この時間はご予約いただけなくなりました。" in _html(client.get(response.headers["Location"]))
    off_grid = start.replace(minute=15)
    response = client.get(f"/book/{salon.booking_key}/form", query_string={"service": cut.id, "start": start_param(off_grid)})
    assert response.status_code == 302
    response = client.get(f"/book/{salon.booking_key}/form", query_string={"service": cut.id, "start": "garbage"})
    assert response.status_code == 302


def test_csrf_is_required(client, shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    start = free_starts(salon, cut)[0]
    response = client.post(f"/book/{salon.booking_key}/form",
                           data={"service": cut.id, "start": start_param(start), **VISITOR})
    assert response.status_code == 400
    assert _count(db, Booking) == 0


def test_booking_posts_are_rate_limited(client, shop, db, app, monkeypatch):
    monkeypatch.setitem(app.config, "BOOKING_RATE_LIMIT", "3/minute")
    salon = shop[0]
    cut = bookable_shop(salon)
    start = free_starts(salon, cut)[0]
    page = client.get(f"/book/{salon.booking_key}/form", query_string={"service": cut.id, "start": start_param(start)})
    token = csrf_from(_html(page))
    statuses = [client.post(f"/book/{salon.booking_key}/form",
                            data={"csrf_token": token, "service": cut.id, "start": start_param(start),
                                  **VISITOR, "phone": "bad"}).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]


def test_the_line_button_appears_once_a_login_channel_is_set(client, shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    channel = channel_for_shop(salon.id)
    channel.login_channel_id, channel.login_channel_secret = "1600000001", "a" * 32
    db.session.flush()
    start = free_starts(salon, cut)[0]
    html = _html(client.get(f"/book/{salon.booking_key}/form", query_string={"service": cut.id, "start": start_param(start)}))
    assert "LINE連携する" in html


def test_the_confirmation_belongs_to_the_browser_that_booked(client, app, shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    post_booking(client, salon, cut, free_starts(salon, cut)[0])
    other_browser = app.test_client()
    response = other_browser.get(f"/book/{salon.booking_key}/done")
    assert response.status_code == 302
