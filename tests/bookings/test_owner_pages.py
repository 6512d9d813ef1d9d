"""Staff pages: bookings by day, cancelling, the customer's 予約 tab; the owner's menu, hours and LINE Login."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from crm.bookings import catalog, services, slots
from crm.bookings.models import (
    Booking,
    BookingSlot,
    BookingStatus,
    BusinessHours,
    Closure,
    Service,
)
from crm.line_platform.services import channel_for_shop
from crm.staff.models import Role
from tests.bookings.helpers import book, bookable_shop, free_starts, make_service
from tests.factories import make_customer, make_shop, make_staff


def _html(response):
    return response.get_data(as_text=True)


# 17:30 in Tokyo: the first free slots of the booking calendar are on the next days,
# which is where this test used to fail when its first three slots crossed midnight.
@pytest.mark.time_machine(datetime(2026, 3, 31, 17, 30, tzinfo=ZoneInfo("Asia/Tokyo")), tick=False)
def test_bookings_of_a_day_link_to_their_customers(client, auth, shop, owner, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    starts = free_starts(salon, cut, count=20)
    first = starts[0]
    # Two bookings of the same day, an hour apart at least, whatever the time now.
    second = next(s for s in starts if s.date() == first.date() and s >= first + timedelta(hours=1))
    a = book(salon, cut, first)
    b = book(salon, cut, second, family_name="田中", given_name="一郎", family_name_kana="タナカ",
             given_name_kana="イチロウ", phone="080-1111-2222")
    db.session.flush()
    auth.login(owner)
    day = first.date()
    html = _html(client.get("/bookings", query_string={"date": day.isoformat()}))
    assert "伊藤 さくら 様" in html and "田中 一郎 様" in html
    assert html.index("伊藤 さくら") < html.index("田中 一郎")
    assert f'href="/customers/{a.customer.id}/bookings"' in html
    assert f'href="/customers/{b.customer.id}/bookings"' in html
    assert f'name="next" value="/bookings?date={day.isoformat()}"' in html
    assert first.strftime("%H:%M") in html and "カット" in html and "¥4,400" in html
    assert f'href="/bookings?date={(day - timedelta(days=1)).isoformat()}"' in html
    assert f'href="/bookings?date={(day + timedelta(days=1)).isoformat()}"' in html
    empty = _html(client.get("/bookings", query_string={"date": (day + timedelta(days=30)).isoformat()}))
    assert "この日の予約はありません。" in empty
    assert client.get("/bookings", query_string={"date": "nonsense"}).status_code == 200


def test_another_shops_bookings_are_not_listed(client, auth, shop, owner, db):
    other, _ = make_shop()
    cut = bookable_shop(other)
    start = free_starts(other, cut)[0]
    book(other, cut, start, family_name="他店")
    auth.login(owner)
    html = _html(client.get("/bookings", query_string={"date": start.date().isoformat()}))
    assert "他店" not in html


def test_cancelling_frees_the_time(client, auth, shop, db):
    salon = shop[0]
    staff = make_staff(salon)
    cut = bookable_shop(salon)
    start = free_starts(salon, cut)[0]
    booking = book(salon, cut, start).booking
    auth.login(staff)
    response = client.post_form(f"/bookings/{booking.id}/cancel", {"next": f"/customers/{booking.customer_id}/bookings"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/customers/{booking.customer_id}/bookings"
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == BookingStatus.CANCELLED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BookingSlot)) == 0
    assert slots.is_free(salon, cut, start)
    response = client.post_form(f"/bookings/{booking.id}/cancel", {"next": "https://evil.example/"})
    assert response.headers["Location"].startswith("/bookings?date=")


def test_another_shops_booking_cannot_be_cancelled(client, auth, owner, db):
    other, _ = make_shop()
    cut = bookable_shop(other)
    booking = book(other, cut).booking
    auth.login(owner)
    assert client.post_form(f"/bookings/{booking.id}/cancel").status_code == 404
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == BookingStatus.BOOKED


def test_the_customers_booking_tab(client, auth, shop, owner, db, monkeypatch):
    salon = shop[0]
    cut = bookable_shop(salon)
    starts = free_starts(salon, cut, count=6)
    upcoming = book(salon, cut, starts[4]).booking
    past = book(salon, cut, starts[0]).booking
    cancelled = book(salon, cut, starts[2]).booking
    services.cancel(cancelled)
    past.starts_at -= timedelta(days=30)
    past.ends_at -= timedelta(days=30)
    db.session.flush()
    assert upcoming.customer_id == past.customer_id == cancelled.customer_id
    auth.login(owner)
    html = _html(client.get(f"/customers/{upcoming.customer_id}/bookings"))
    upcoming_part, past_part = html.split("過去の予約")
    assert "今後の予約" in upcoming_part
    assert upcoming_part.count('class="list-item booking-row') == 1
    assert past_part.count('class="list-item booking-row') == 2
    assert "キャンセル済み" in past_part
    assert f"/bookings/{upcoming.id}/cancel" in upcoming_part
    assert f'name="next" value="/customers/{upcoming.customer_id}/bookings"' in upcoming_part
    fragment = client.htmx_get(f"/customers/{upcoming.customer_id}/bookings", "customer-tabs")
    assert "今後の予約" in _html(fragment)
    nobody = make_customer(salon, family_name="予約なし", phone=None)
    html = _html(client.get(f"/customers/{nobody.id}/bookings"))
    assert "予約はまだありません。" in html and "今後の予約" not in html
    services.cancel(upcoming)
    db.session.flush()
    html = _html(client.get(f"/customers/{upcoming.customer_id}/bookings"))
    assert "今後の予約はありません。" in html


def test_staff_see_bookings_but_only_the_owner_manages_the_menu(client, auth, shop, db):
    salon = shop[0]
    staff = make_staff(salon, role=Role.STAFF)
    service = make_service(salon)
    auth.login(staff)
    assert client.get("/bookings").status_code == 200
    for url in ("/settings/booking", "/settings/booking/services/new", f"/settings/booking/services/{service.id}/edit"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"] == "/customers/"
    response = client.post_form("/settings/booking/services/new", {"name": "x", "duration_minutes": 30, "price_yen": 1})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Service)) == 1


def test_the_owner_adds_edits_and_hides_a_service(client, auth, shop, owner, db):
    salon = shop[0]
    auth.login(owner)
    html = _html(client.get("/settings/booking"))
    assert f"/book/{salon.booking_key}" in html
    response = client.post_form("/settings/booking/services/new",
                                {"name": "ヘッドスパ", "duration_minutes": "30", "price_yen": "3300", "active": "y"})
    assert response.status_code == 302
    service = db.session.scalars(sa.select(Service).where(Service.shop_id == salon.id)).one()
    assert (service.name, service.duration_minutes, service.price_yen, service.active) == ("ヘッドスパ", 30, 3300, True)

    response = client.post_form("/settings/booking/services/new", {"name": "", "duration_minutes": "45", "price_yen": "-1"})
    assert response.status_code == 422
    html = _html(response)
    assert "メニュー名を入力してください。" in html
    assert "料金は0〜1,000,000円で入力してください。" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Service)) == 1

    response = client.post_form(f"/settings/booking/services/{service.id}/edit",
                                {"name": "ヘッドスパ（炭酸）", "duration_minutes": "60", "price_yen": "4000", "position": "5"})
    assert response.status_code == 302
    db.session.expire_all()
    service = db.session.get(Service, service.id)
    assert (service.name, service.duration_minutes, service.price_yen, service.position, service.active) == (
        "ヘッドスパ（炭酸）", 60, 4000, 5, False)  # the checkbox was left off: hidden
    assert "ヘッドスパ" not in _html(client.get(f"/book/{salon.booking_key}"))


def test_the_owner_sets_business_hours_and_closed_days(client, auth, shop, owner, db):
    salon = shop[0]
    auth.login(owner)
    data = {}
    for weekday in range(7):
        data[f"opens_{weekday}"], data[f"closes_{weekday}"] = "10:00", "19:00"
        if weekday != 0:
            data[f"open_{weekday}"] = "y"
    data["opens_3"], data["closes_3"] = "12:30", "20:00"
    response = client.post_form("/settings/booking/hours", data)
    assert response.status_code == 302
    hours = catalog.hours_by_weekday(salon.id)
    assert sorted(hours) == [1, 2, 3, 4, 5, 6]
    assert (hours[3].opens_at, hours[3].closes_at) == (time(12, 30), time(20))

    bad = dict(data, opens_2="19:00", closes_2="10:00")
    response = client.post_form("/settings/booking/hours", bad)
    assert response.status_code == 422
    assert "閉店時刻は開店時刻より後にしてください。" in _html(response)
    assert catalog.hours_by_weekday(salon.id)[2].opens_at == time(10)

    closed = slots.first_day(salon) + timedelta(days=3)
    response = client.post_form("/settings/booking/closures", {"day": closed.isoformat(), "note": "研修"})
    assert response.status_code == 302
    assert db.session.scalars(sa.select(Closure.day)).all() == [closed]
    assert "研修" in _html(client.get("/settings/booking"))
    client.post_form("/settings/booking/closures/remove", {"day": closed.isoformat()})
    assert db.session.scalars(sa.select(Closure)).all() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BusinessHours)) == 6


def test_the_owner_stores_the_line_login_channel(client, auth, shop, owner, db):
    salon = shop[0]
    auth.login(owner)
    html = _html(client.get("/settings/booking"))
    assert f"/book/{salon.booking_key}/line/callback" in html
    response = client.post_form("/settings/booking/line-login", {"login_channel_id": "1600000001", "login_channel_secret": ""})
    assert response.status_code == 422 and "入力してください。" in _html(response)
    response = client.post_form("/settings/booking/line-login",
                                {"login_channel_id": "1600000001", "login_channel_secret": "s" * 32})
    assert response.status_code == 302
    channel = channel_for_shop(salon.id)
    db.session.refresh(channel)
    assert (channel.login_channel_id, channel.login_channel_secret) == ("1600000001", "s" * 32)
    stored = db.session.execute(sa.text("SELECT login_channel_secret FROM line_channels WHERE id = :id"),
                                {"id": channel.id}).scalar_one()
    assert "s" * 32 not in stored  # encrypted at rest
    client.post_form("/settings/booking/line-login", {"login_channel_id": "1600000002", "login_channel_secret": ""})
    db.session.refresh(channel)
    assert (channel.login_channel_id, channel.login_channel_secret) == ("1600000002", "s" * 32)
    assert "s" * 32 not in _html(client.get("/settings/booking"))
