"""Free booking times, computed in the shop's timezone from its hours, closed days and taken units.

Times are kept aware.  Slots start on the 30-minute grid of UTC (the grid the
booking_slots unique key is on), which for Japan is every :00 and :30 of local
time; a service fits when every unit of its duration lies inside the day's
business hours and no unit is taken.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from crm.bookings.models import SLOT_MINUTES, BookingSlot, BusinessHours, Closure
from crm.database import utcnow
from crm.extensions import db

UNIT = timedelta(minutes=SLOT_MINUTES)
DAYS_AHEAD = 14
DEFAULT_LEAD = timedelta(hours=1)  # the shop needs a little notice


@dataclass
class Day:
    """One day of the booking calendar with its free start times (aware, shop-local)."""

    day: date
    open: bool
    slots: list = field(default_factory=list)

    @property
    def available(self):
        return bool(self.slots)


def shop_zone(shop):
    return ZoneInfo(shop.timezone)


def on_grid(moment):
    """True when an aware time is on the 30-minute grid of UTC."""
    utc = moment.astimezone(timezone.utc)
    return utc.second == 0 and utc.microsecond == 0 and utc.minute % SLOT_MINUTES == 0


def _ceil_to_grid(moment):
    utc = moment.astimezone(timezone.utc)
    floor = utc.replace(minute=utc.minute - utc.minute % SLOT_MINUTES, second=0, microsecond=0)
    return floor if floor == utc else floor + UNIT


def units_of(starts_at, duration_minutes):
    """The slot units (aware UTC) a booking starting then for that long holds."""
    if not on_grid(starts_at):
        raise ValueError(f"{starts_at} is not on the {SLOT_MINUTES}-minute grid")
    if duration_minutes <= 0 or duration_minutes % SLOT_MINUTES:
        raise ValueError(f"{duration_minutes} minutes is not a whole number of units")
    start = starts_at.astimezone(timezone.utc)
    return [start + i * UNIT for i in range(duration_minutes // SLOT_MINUTES)]


def first_day(shop, now=None):
    """Today in the shop's timezone."""
    return (now or utcnow()).astimezone(shop_zone(shop)).date()


def _day_bounds(day, zone):
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def taken_units(shop_id, start_utc, end_utc):
    """The units held by bookings between two times."""
    rows = db.session.scalars(
        sa.select(BookingSlot.slot_start).where(
            BookingSlot.shop_id == shop_id, BookingSlot.slot_start >= start_utc, BookingSlot.slot_start < end_utc
        )
    )
    return {row.astimezone(timezone.utc) for row in rows}


def calendar(shop, service, days=DAYS_AHEAD, now=None, lead=DEFAULT_LEAD, start_day=None):
    """The next `days` days from today (shop time), each with the free start times for `service`."""
    zone = shop_zone(shop)
    now = now or utcnow()
    today = first_day(shop, now)
    start_day = max(start_day or today, today)
    last_day = today + timedelta(days=DAYS_AHEAD - 1)
    day_list = [start_day + timedelta(days=i) for i in range(days) if start_day + timedelta(days=i) <= last_day]
    if not day_list:
        return []
    hours = {
        h.weekday: h
        for h in db.session.scalars(sa.select(BusinessHours).where(BusinessHours.shop_id == shop.id))
    }
    closed = set(
        db.session.scalars(
            sa.select(Closure.day).where(
                Closure.shop_id == shop.id, Closure.day >= day_list[0], Closure.day <= day_list[-1]
            )
        )
    )
    range_start, _ = _day_bounds(day_list[0], zone)
    _, range_end = _day_bounds(day_list[-1], zone)
    taken = taken_units(shop.id, range_start, range_end + timedelta(minutes=service.duration_minutes))
    earliest = now + lead
    result = []
    for day in day_list:
        row = hours.get(day.weekday())
        if row is None or day in closed:
            result.append(Day(day, open=False))
            continue
        opens = datetime.combine(day, row.opens_at, tzinfo=zone).astimezone(timezone.utc)
        closes = datetime.combine(day, row.closes_at, tzinfo=zone).astimezone(timezone.utc)
        length = timedelta(minutes=service.duration_minutes)
        slots = []
        start = _ceil_to_grid(max(opens, earliest))
        while start + length <= closes:
            if not any(unit in taken for unit in units_of(start, service.duration_minutes)):
                slots.append(start.astimezone(zone))
            start += UNIT
        result.append(Day(day, open=True, slots=slots))
    return result


def is_free(shop, service, starts_at, now=None, lead=DEFAULT_LEAD):
    """True when `starts_at` is one of the free start times for `service` right now."""
    if starts_at.tzinfo is None or not on_grid(starts_at):
        return False
    day = starts_at.astimezone(shop_zone(shop)).date()
    days = calendar(shop, service, days=1, now=now, lead=lead, start_day=day)
    if not days or days[0].day != day:
        return False
    return any(slot == starts_at for slot in days[0].slots)
