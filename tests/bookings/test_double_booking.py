"""Two customers can never hold the same time: the database refuses the second booking."""
import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm import jobs
from crm.bookings import catalog, services, slots
from crm.bookings.models import Booking, BookingSlot, BookingStatus
from crm.customers.models import Customer
from crm.extensions import db as _db
from crm.shops.models import Shop
from tests.bookings.helpers import (
    bookable_shop,
    free_starts,
    make_service,
    post_booking,
    visitor,
)
from tests.factories import make_shop

JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def python_checks_off(monkeypatch):
    """Make the Python check see every time as free, so only the database can refuse."""
    monkeypatch.setattr(slots, "is_free", lambda *args, **kwargs: True)


def test_an_overlapping_booking_is_refused_by_the_unique_key(shop, db, python_checks_off):
    salon = shop[0]
    cut = bookable_shop(salon)
    color = make_service(salon, name="カラー", minutes=120)
    start = free_starts(salon, color)[0]
    first = services.book(salon, color, start, visitor())  # holds four units
    second_start = start + (first.booking.ends_at - first.booking.starts_at) / 2
    with pytest.raises(services.SlotTaken):
        services.book(salon, cut, second_start, visitor(family_name="田中", phone="090-5555-6666"))
    jobs.rollback()


def test_a_duplicate_unit_cannot_be_inserted_at_all(shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    booking = services.book(salon, cut, free_starts(salon, cut)[0], visitor()).booking
    unit = db.session.scalars(sa.select(BookingSlot.slot_start).where(BookingSlot.booking_id == booking.id)).first()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.add(BookingSlot(shop_id=salon.id, slot_start=unit, booking_id=booking.id))
            db.session.flush()


def test_the_visitor_is_told_the_time_was_just_taken(client, shop, db, python_checks_off):
    salon = shop[0]
    cut = bookable_shop(salon)
    start = free_starts(salon, cut)[0]
    services.book(salon, cut, start, visitor(family_name="先客", phone="090-7777-8888"))
    response = post_booking(client, salon, cut, start)
    assert response.status_code == 302
    assert f"/book/{salon.booking_key}?service={cut.id}" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "この時間はたった今ほかのご予約が入りました。別の時間をお選びください。" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Customer).where(Customer.family_name == "伊藤")) == 0


def test_concurrent_bookings_of_one_time_commit_once(app, python_checks_off):
    """Two requests in two threads, each with its own connection, on committed rows."""
    with app.app_context():
        salon, _owner = make_shop()
        for weekday in range(7):
            catalog.set_hours(salon.id, weekday, time(10), time(19))
        cut = make_service(salon, minutes=60)
        _db.session.commit()
        shop_id, service_id = salon.id, cut.id
        tomorrow = slots.first_day(salon) + timedelta(days=1)
        start = datetime.combine(tomorrow, time(11), tzinfo=JST)
        _db.session.remove()

    barrier = threading.Barrier(2, timeout=10)
    results, errors = [], []

    def attempt(family_name, phone):
        with app.app_context():
            try:
                shop = _db.session.get(Shop, shop_id)
                service = catalog.active_service(shop_id, service_id)
                _db.session.rollback()  # no transaction open while waiting (SQLite's lock is taken at BEGIN)
                barrier.wait()
                try:
                    services.book(shop, service, start, visitor(family_name=family_name, phone=phone))
                    jobs.commit()
                    results.append("booked")
                except services.SlotTaken:
                    jobs.rollback()
                    results.append("taken")
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=attempt, args=args)
               for args in (("一番", "090-1000-0001"), ("二番", "090-1000-0002"))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
        assert sorted(results) == ["booked", "taken"]
        with app.app_context():
            bookings = _db.session.scalars(sa.select(Booking).where(Booking.shop_id == shop_id)).all()
            assert len(bookings) == 1 and bookings[0].status == BookingStatus.BOOKED
            units = _db.session.scalar(
                sa.select(sa.func.count()).select_from(BookingSlot).where(BookingSlot.shop_id == shop_id))
            assert units == 2
            _db.session.remove()
    finally:
        with app.app_context():  # committed rows: remove them (the shop's rows cascade)
            _db.session.execute(sa.delete(Shop).where(Shop.id == shop_id))
            _db.session.commit()
            _db.session.remove()
