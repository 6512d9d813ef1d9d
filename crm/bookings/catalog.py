"""The shop's catalog: its menu (メニュー), business hours and closures, what the booking page offers."""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from crm.bookings.models import BusinessHours, Closure, Service
from crm.extensions import db


def menu(shop_id, include_inactive=False):
    stmt = sa.select(Service).where(Service.shop_id == shop_id)
    if not include_inactive:
        stmt = stmt.where(Service.active.is_(True))
    return db.session.scalars(stmt.order_by(Service.active.desc(), Service.position, Service.id)).all()


def active_service(shop_id, service_id):
    try:
        service_id = int(service_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalars(
        sa.select(Service).where(Service.id == service_id, Service.shop_id == shop_id, Service.active.is_(True))
    ).first()


def add_service(shop_id, name, duration_minutes, price_yen, description=""):
    last = db.session.scalar(sa.select(sa.func.max(Service.position)).where(Service.shop_id == shop_id))
    service = Service(
        shop_id=shop_id, name=name.strip(), description=(description or "").strip(),
        duration_minutes=duration_minutes, price_yen=price_yen, active=True, position=(last or 0) + 1,
    )
    db.session.add(service)
    db.session.flush()
    return service


def hours_by_weekday(shop_id):
    """{weekday: BusinessHours} for the open weekdays."""
    rows = db.session.scalars(sa.select(BusinessHours).where(BusinessHours.shop_id == shop_id))
    return {row.weekday: row for row in rows}


def set_hours(shop_id, weekday, opens_at=None, closes_at=None):
    """Open a weekday from opens_at to closes_at, or close it (None)."""
    row = hours_by_weekday(shop_id).get(weekday)
    if opens_at is None or closes_at is None:
        if row is not None:
            db.session.delete(row)
    else:
        if not opens_at < closes_at:
            raise ValueError("opens_at must be before closes_at")
        if row is None:
            row = BusinessHours(shop_id=shop_id, weekday=weekday)
            db.session.add(row)
        row.opens_at, row.closes_at = opens_at, closes_at
    db.session.flush()


def closures(shop_id, from_day=None):
    stmt = sa.select(Closure).where(Closure.shop_id == shop_id)
    if from_day is not None:
        stmt = stmt.where(Closure.day >= from_day)
    return db.session.scalars(stmt.order_by(Closure.day)).all()


def add_closure(shop_id, day, note=""):
    existing = db.session.scalars(sa.select(Closure).where(Closure.shop_id == shop_id, Closure.day == day)).first()
    if existing is None:
        existing = Closure(shop_id=shop_id, day=day)
        db.session.add(existing)
    existing.note = (note or "").strip()
    db.session.flush()
    return existing


def remove_closure(shop_id, day):
    db.session.execute(sa.delete(Closure).where(Closure.shop_id == shop_id, Closure.day == day))


def lead_time():
    return timedelta(minutes=int(current_app.config.get("BOOKING_LEAD_MINUTES", 60)))


# -- LINE Login --------------------------------------------------------------------------------------
