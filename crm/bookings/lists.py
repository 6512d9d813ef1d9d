"""Bookings as the owner and the customer see them: a day's list, a customer's upcoming and past ones."""
from datetime import datetime, time, timedelta, timezone

import sqlalchemy as sa

from crm.bookings import slots
from crm.bookings.models import Booking, BookingStatus
from crm.database import utcnow
from crm.extensions import db

PAST_BOOKINGS_SHOWN = 50


def bookings_on(shop, day):
    """The shop's bookings starting on a (shop-local) day, cancelled ones included, with customers."""
    zone = slots.shop_zone(shop)
    start = datetime.combine(day, time.min, tzinfo=zone).astimezone(timezone.utc)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(timezone.utc)
    return db.session.scalars(
        sa.select(Booking)
        .options(sa.orm.joinedload(Booking.customer))
        .where(Booking.shop_id == shop.id, Booking.starts_at >= start, Booking.starts_at < end)
        .order_by(Booking.starts_at, Booking.id)
    ).all()


def upcoming_for_customer(customer, now=None):
    """The customer's booked (not cancelled) bookings that have not ended, soonest first."""
    now = now or utcnow()
    return db.session.scalars(
        sa.select(Booking)
        .where(
            Booking.customer_id == customer.id,
            Booking.shop_id == customer.shop_id,
            Booking.status == BookingStatus.BOOKED,
            Booking.ends_at > now,
        )
        .order_by(Booking.starts_at, Booking.id)
    ).all()


def customer_bookings(customer, now=None):
    """For the customer's 予約 tab: {"upcoming": [...], "past": [...]} (past: newest first)."""
    now = now or utcnow()
    upcoming = upcoming_for_customer(customer, now)
    shown = {b.id for b in upcoming}
    past = db.session.scalars(
        sa.select(Booking)
        .where(Booking.customer_id == customer.id, Booking.shop_id == customer.shop_id)
        .order_by(Booking.starts_at.desc(), Booking.id.desc())
        .limit(PAST_BOOKINGS_SHOWN + len(shown))
    ).all()
    past = [b for b in past if b.id not in shown][:PAST_BOOKINGS_SHOWN]
    return {"upcoming": upcoming, "past": past}


# -- merges -----------------------------------------------------------------------------------------
