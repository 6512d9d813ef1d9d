"""応答時間: is the shop answering at a moment? Weekly ranges (several a day) and 休業日.

By default the booking page's 営業時間 (one range a weekday) and 臨時休業日; a
shop may keep its own ranges and 休業日 (single days or ranges) instead.
"""
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from crm.autoreply.models import AutoReplyClosure, AutoReplyHours, HoursSource
from crm.bookings.models import BusinessHours, Closure
from crm.extensions import db

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Status:
    """Open, or closed for the evening (時間外), or a 休業日 (holiday)."""

    open: bool
    holiday: bool = False


def minutes_of(value) -> int:
    """A time as minutes from midnight."""
    return value.hour * 60 + value.minute


def label(minutes: int) -> str:
    """600 → '10:00'; 1440 → '24:00'."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def weekly_ranges(shop_id: int, source: HoursSource) -> dict[int, list[tuple[int, int]]]:
    """{weekday: [(opens, closes), ...]} in minutes, sorted, from the chosen source."""
    ranges: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
    if source == HoursSource.CUSTOM:
        for row in db.session.scalars(sa.select(AutoReplyHours).where(AutoReplyHours.shop_id == shop_id)):
            ranges[row.weekday].append((row.opens_minute, row.closes_minute))
    else:
        for row in db.session.scalars(sa.select(BusinessHours).where(BusinessHours.shop_id == shop_id)):
            ranges[row.weekday].append((minutes_of(row.opens_at), minutes_of(row.closes_at)))
    for day in ranges.values():
        day.sort()
    return ranges


def is_closed_day(shop_id: int, source: HoursSource, day: date) -> bool:
    """True when `day` is a 休業日 (custom: a day or range; booking: a 臨時休業日)."""
    if source == HoursSource.CUSTOM:
        stmt = sa.select(AutoReplyClosure.id).where(
            AutoReplyClosure.shop_id == shop_id, AutoReplyClosure.first_day <= day, AutoReplyClosure.last_day >= day)
    else:
        stmt = sa.select(Closure.id).where(Closure.shop_id == shop_id, Closure.day == day)
    return db.session.scalar(stmt.limit(1)) is not None


def status_at(shop, source: HoursSource, moment: datetime) -> Status:
    """Whether the shop answers at `moment` (aware), in its own timezone."""
    local = moment.astimezone(ZoneInfo(shop.timezone or "Asia/Tokyo"))
    if is_closed_day(shop.id, source, local.date()):
        return Status(open=False, holiday=True)
    minute = local.hour * 60 + local.minute
    ranges = weekly_ranges(shop.id, source)[local.weekday()]
    return Status(open=any(opens <= minute < closes for opens, closes in ranges))


def parse_clock(value: str) -> int | None:
    """'9:30' → 570, '24:00' → 1440; None when it is not a time."""
    value = (value or "").strip()
    hours, sep, minutes = value.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        return None
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > MINUTES_PER_DAY:
        return None
    return total


def overlaps(ranges: list[tuple[int, int]]) -> bool:
    """True when two of the (sorted or not) ranges share a minute."""
    ordered = sorted(ranges)
    return any(later[0] < earlier[1] for earlier, later in zip(ordered, ordered[1:], strict=False))
