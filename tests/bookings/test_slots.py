"""Free times: business hours, durations, taken units, closed days, the shop's timezone, the past."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from crm.bookings import catalog, services, slots
from tests.bookings.helpers import make_service, visitor
from tests.factories import make_shop

JST = ZoneInfo("Asia/Tokyo")
# Monday 2026-11-23, 09:00 in Tokyo.
MONDAY_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=JST)
TUESDAY = date(2026, 11, 24)


def at(day, hh, mm=0, zone=JST):
    return datetime.combine(day, time(hh, mm), tzinfo=zone)


def times(day_slots):
    return [s.strftime("%H:%M") for s in day_slots]


@pytest.fixture
def salon(db):
    shop, _owner = make_shop()
    for weekday in range(1, 7):  # closed on Mondays
        catalog.set_hours(shop.id, weekday, time(10), time(19))
    return shop


def test_fourteen_days_from_today_in_the_shops_timezone(salon):
    service = make_service(salon, minutes=60)
    days = slots.calendar(salon, service, now=MONDAY_MORNING)
    assert [d.day for d in days] == [date(2026, 11, 23) + timedelta(days=i) for i in range(14)]
    monday, tuesday = days[0], days[1]
    assert not monday.open and not monday.slots
    assert tuesday.open
    assert times(tuesday.slots) == [f"{h:02d}:{m:02d}" for h in range(10, 18) for m in (0, 30)] + ["18:00"]
    assert all(s.tzinfo is not None and s.utcoffset() == timedelta(hours=9) for s in tuesday.slots)


@pytest.mark.parametrize("minutes, first, last, count", [(30, "10:00", "18:30", 18), (60, "10:00", "18:00", 17),
                                                          (120, "10:00", "17:00", 15)])
def test_the_whole_duration_fits_before_closing(salon, minutes, first, last, count):
    service = make_service(salon, minutes=minutes)
    tuesday = slots.calendar(salon, service, now=MONDAY_MORNING)[1]
    assert (times(tuesday.slots)[0], times(tuesday.slots)[-1], len(tuesday.slots)) == (first, last, count)


def test_taken_units_are_not_offered(salon):
    cut = make_service(salon, minutes=60)
    color = make_service(salon, name="カラー", minutes=120)
    services.book(salon, cut, at(TUESDAY, 11), visitor(), now=MONDAY_MORNING)  # holds 11:00 and 11:30

    tuesday = slots.calendar(salon, cut, now=MONDAY_MORNING)[1]
    assert "10:00" in times(tuesday.slots)
    assert not {"10:30", "11:00", "11:30"} & set(times(tuesday.slots))
    assert "12:00" in times(tuesday.slots)
    long = slots.calendar(salon, color, now=MONDAY_MORNING)[1]
    assert not {"10:00", "10:30", "11:00", "11:30"} & set(times(long.slots))
    assert times(long.slots)[0] == "12:00"
    assert slots.is_free(salon, cut, at(TUESDAY, 10), now=MONDAY_MORNING)
    assert not slots.is_free(salon, cut, at(TUESDAY, 10, 30), now=MONDAY_MORNING)


def test_a_cancelled_booking_frees_its_units(salon):
    cut = make_service(salon, minutes=60)
    booking = services.book(salon, cut, at(TUESDAY, 11), visitor(), now=MONDAY_MORNING).booking
    assert not slots.is_free(salon, cut, at(TUESDAY, 11), now=MONDAY_MORNING)
    services.cancel(booking)
    assert slots.is_free(salon, cut, at(TUESDAY, 11), now=MONDAY_MORNING)


def test_other_shops_bookings_do_not_count(salon, db):
    other, _ = make_shop()
    catalog.set_hours(other.id, 1, time(10), time(19))
    other_cut = make_service(other, minutes=60)
    services.book(other, other_cut, at(TUESDAY, 11), visitor(), now=MONDAY_MORNING)
    cut = make_service(salon, minutes=60)
    assert slots.is_free(salon, cut, at(TUESDAY, 11), now=MONDAY_MORNING)


def test_closed_days_and_past_times(salon):
    cut = make_service(salon, minutes=60)
    catalog.add_closure(salon.id, TUESDAY, "研修")
    days = slots.calendar(salon, cut, now=MONDAY_MORNING)
    assert not days[1].open and not days[1].slots
    assert days[2].open and days[2].slots

    # Wednesday 12:10: an hour's notice makes 13:30 the first time.
    noon = at(date(2026, 11, 25), 12, 10)
    wednesday = slots.calendar(salon, cut, now=noon)[0]
    assert wednesday.day == date(2026, 11, 25)
    assert times(wednesday.slots)[0] == "13:30"
    assert not slots.is_free(salon, cut, at(date(2026, 11, 25), 13), now=noon)
    assert not slots.is_free(salon, cut, at(date(2026, 11, 25), 10), now=noon)  # past
    assert not slots.is_free(salon, cut, at(TUESDAY, 11), now=noon)  # yesterday
    # Beyond the two weeks nothing is bookable.
    assert not slots.is_free(salon, cut, at(date(2026, 12, 10), 11), now=noon)
    after_closing = at(date(2026, 11, 25), 18, 30)
    assert not slots.is_free(salon, cut, after_closing, now=noon)  # 60 minutes do not fit


def test_times_off_the_grid_are_refused(salon):
    cut = make_service(salon, minutes=60)
    assert not slots.is_free(salon, cut, at(TUESDAY, 10, 15), now=MONDAY_MORNING)
    assert not slots.is_free(salon, cut, datetime(2026, 11, 24, 10, 0), now=MONDAY_MORNING)  # naive
    with pytest.raises(ValueError):
        slots.units_of(at(TUESDAY, 10, 15), 60)
    with pytest.raises(ValueError):
        slots.units_of(at(TUESDAY, 10), 45)
    assert slots.units_of(at(TUESDAY, 10), 90) == [
        datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc) + timedelta(minutes=30 * i) for i in range(3)
    ]


def test_hours_are_local_to_the_shops_timezone(db):
    shop, _ = make_shop(timezone="America/New_York")
    catalog.set_hours(shop.id, 1, time(9), time(12))  # Tuesdays 9:00-12:00 in New York
    cut = make_service(shop, minutes=60)
    new_york = ZoneInfo("America/New_York")
    # Monday 23:00 in New York is already Tuesday in Tokyo and in UTC.
    now = datetime(2026, 11, 23, 23, 0, tzinfo=new_york)
    days = slots.calendar(shop, cut, now=now)
    assert days[0].day == date(2026, 11, 23) and not days[0].open
    tuesday = days[1]
    assert times(tuesday.slots) == ["09:00", "09:30", "10:00", "10:30", "11:00"]
    assert tuesday.slots[0].astimezone(timezone.utc) == datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)
    assert slots.is_free(shop, cut, tuesday.slots[0], now=now)
    assert slots.is_free(shop, cut, tuesday.slots[0].astimezone(JST), now=now)  # the same instant


def test_summer_time_changes_the_utc_offset_not_the_hours(db):
    shop, _ = make_shop(timezone="Europe/London")
    catalog.set_hours(shop.id, 6, time(10), time(12))  # Sundays
    cut = make_service(shop, minutes=60)
    london = ZoneInfo("Europe/London")
    now = datetime(2026, 3, 27, 9, 0, tzinfo=london)  # Friday before the clocks go forward
    sunday = next(d for d in slots.calendar(shop, cut, now=now) if d.day == date(2026, 3, 29))
    assert times(sunday.slots) == ["10:00", "10:30", "11:00"]
    assert sunday.slots[0].astimezone(timezone.utc).hour == 9  # BST
    week_before = next(d for d in slots.calendar(shop, cut, now=now - timedelta(days=7)) if d.day == date(2026, 3, 22))
    assert week_before.slots[0].astimezone(timezone.utc).hour == 10  # GMT
