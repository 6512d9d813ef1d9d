"""The ledger's placeholders in texts written to customers: {お客様名}, {次回予約}, {店舗名}.

One set for 定型文 (crm/line_tab/saved_replies.py) and 一斉配信
(crm/broadcasts/compose.py): the same words mean the same values everywhere.
"""
import re
from datetime import datetime, timezone

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from crm.bookings.formatting import day_label, time_label
from crm.bookings.lists import upcoming_for_customer
from crm.bookings.models import Booking, BookingStatus
from crm.customers.models import Customer
from crm.extensions import db
from crm.shops.models import Shop

CUSTOMER_NAME, NEXT_BOOKING, SHOP_NAME = "{お客様名}", "{次回予約}", "{店舗名}"
PLACEHOLDERS = {
    CUSTOMER_NAME: _l("お客様の氏名（LINE連携前はLINEの表示名）"),
    NEXT_BOOKING: _l("次回のご予約の日時とメニュー"),
    SHOP_NAME: _l("店舗名"),
}
PATTERN = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))


def booking_label(starts_at: datetime, service_name: str, tz_name: str) -> str:
    """「12月5日(金) 14:00 カット」: a booking as {次回予約} says it."""
    return f"{day_label(starts_at, tz_name)} {time_label(starts_at, tz_name)} {service_name}"


def next_booking_label(customer: Customer | None, shop: Shop) -> str | None:
    """The customer's next booking as {次回予約} says it, or None."""
    if customer is None:
        return None
    upcoming = upcoming_for_customer(customer)
    if not upcoming:
        return None
    return booking_label(upcoming[0].starts_at, upcoming[0].service_name, shop.timezone)


def next_booking_labels(customer_ids: list[int], shop: Shop, now: datetime) -> dict[int, str]:
    """{次回予約} of many customers in one query (those without an upcoming booking are absent)."""
    first = (sa.select(Booking.customer_id, sa.func.min(Booking.starts_at).label("starts_at"))
             .where(Booking.customer_id.in_(customer_ids), Booking.status == BookingStatus.BOOKED,
                    Booking.starts_at >= now)
             .group_by(Booking.customer_id).subquery())
    labels = {}
    for customer_id, starts_at, service_name in db.session.execute(
            sa.select(Booking.customer_id, Booking.starts_at, Booking.service_name)
            .join(first, sa.and_(first.c.customer_id == Booking.customer_id, first.c.starts_at == Booking.starts_at))
            .where(Booking.status == BookingStatus.BOOKED)):
        if starts_at.tzinfo is None:  # SQLite hands back naive UTC from an aggregate's join
            starts_at = starts_at.replace(tzinfo=timezone.utc)
        labels[customer_id] = booking_label(starts_at, service_name, shop.timezone)
    return labels


def fill(body: str, values: dict[str, str | None]) -> tuple[str, list[str]]:
    """The body with placeholders replaced, and the placeholders left in it for want of a value."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(0))
        if value is None:
            if match.group(0) not in missing:
                missing.append(match.group(0))
            return match.group(0)
        return value

    return PATTERN.sub(replace, body), missing


def unfilled(text: str) -> list[str]:
    """Placeholders still written in a message."""
    found: list[str] = []
    for match in PATTERN.finditer(text or ""):
        if match.group(0) not in found:
            found.append(match.group(0))
    return found
