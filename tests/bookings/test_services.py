"""Upcoming bookings for LINE, merges moving bookings, deleting a customer keeps the booking."""
from datetime import timedelta

import sqlalchemy as sa

from crm.bookings import lists, services, texts
from crm.bookings.models import Booking
from crm.customers.services import delete_customer
from crm.linking.merging import merge_customers
from tests.bookings.helpers import book, bookable_shop, free_starts
from tests.factories import make_customer


def test_upcoming_message_lists_upcoming_bookings(shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    starts = free_starts(salon, cut, count=5)
    first = book(salon, cut, starts[0])
    second = book(salon, cut, starts[4])
    cancelled = book(salon, cut, starts[2])
    services.cancel(cancelled.booking)
    customer = first.customer
    assert second.customer.id == customer.id

    upcoming = lists.upcoming_for_customer(customer)
    assert [b.id for b in upcoming] == [first.booking.id, second.booking.id]
    text = texts.upcoming_message(customer)
    assert text.startswith("伊藤 さくら 様のご予約（2件）")
    assert f"{starts[0]:%H:%M}〜{starts[0] + timedelta(hours=1):%H:%M}" in text
    assert f"{starts[0].year}年{starts[0].month}月{starts[0].day}日" in text
    assert "カット ¥4,400" in text

    later = lists.upcoming_for_customer(customer, now=second.booking.ends_at)
    assert later == []


def test_upcoming_message_without_bookings_points_to_the_booking_page(shop, db, app):
    salon = shop[0]
    customer = make_customer(salon)
    with app.app_context():  # as the postback job calls it: no request, PUBLIC_BASE_URL
        text = texts.upcoming_message(customer)
    assert text.splitlines()[0] == "現在ご予約はありません。"
    assert f"http://127.0.0.1/book/{salon.booking_key}" in text


def test_the_confirmation_text(shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    start = free_starts(salon, cut)[0]
    booking = book(salon, cut, start).booking
    text = texts.confirmation_text(booking, salon)
    assert "ご予約ありがとうございます" in text
    assert salon.name in text and "カット（1時間）" in text and "¥4,400" in text
    assert f"{start:%H:%M}〜{start + timedelta(hours=1):%H:%M}" in text


def test_merging_customers_moves_their_bookings(shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    starts = free_starts(salon, cut, count=3)
    keep = make_customer(salon, family_name="伊藤", given_name="さくら", phone="090-3333-4444")
    duplicate = book(salon, cut, starts[0], family_name="伊藤", given_name="さくら（旧）", phone="090-3333-4445").customer
    also = book(salon, cut, starts[2], family_name="伊藤", given_name="さくら（旧）", phone="090-3333-4445").booking
    assert duplicate.id != keep.id and also.customer_id == duplicate.id
    merge_customers(keep, duplicate)
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Booking).order_by(Booking.starts_at)).all()
    assert [b.customer_id for b in rows] == [keep.id, keep.id]
    assert [b.id for b in lists.upcoming_for_customer(keep)] == [b.id for b in rows]


def test_deleting_a_customer_keeps_the_booking_and_its_time(shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    result = book(salon, cut)
    delete_customer(result.customer)
    db.session.expire_all()
    booking = db.session.get(Booking, result.booking.id)
    assert booking.customer_id is None and booking.full_name == "伊藤 さくら"
    assert not services.slots.is_free(salon, cut, result.booking.starts_at)
