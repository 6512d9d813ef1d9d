"""予約リマインダー: the day before each booking, at the shop's time, a push to the linked customer.

Exactly once: one autoreply_reminders row per booking (UNIQUE booking_id),
inserted with ON CONFLICT DO NOTHING in the same transaction as the message
row it writes.  The message then goes through the one send pipeline like a
送信予約 (scheduled_at set, so it always pushes, with the retry key written
with the row): claim and commit, call LINE, record.  A lost job (Redis
flushed, worker killed) is found again by the tick's sweep, and the retry key
makes LINE deliver it once.  A cancelled booking is never selected.
"""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import gettext as _

from crm.autoreply.messages import CUSTOMER_NAME, LINE_NAME, MENU, PAGE, SHOP_NAME, WHEN, fill, text_message
from crm.autoreply.models import DEFAULT_REMINDER_TIME, AutoReplySettings, BookingReminder
from crm.autoreply.services import default_settings
from crm.bookings.models import Booking, BookingStatus
from crm.bookings.texts import booking_page_url, when_label
from crm.conversations.models import LineFriend, LineMessage, Origin
from crm.database import insert_ignoring, utcnow
from crm.extensions import db
from crm.line_platform.sending import queue_messages
from crm.shops.models import Shop
from crm.shops.plans import line_tab_clause

LOOK_AHEAD = timedelta(days=2)  # a reminder is due at most a day and a bit before its booking
BATCH = 2000


def due_at(starts_at: datetime, tz_name: str, at) -> datetime:
    """When the reminder of a booking is due: the day before, at `at`, in the shop's timezone (UTC)."""
    zone = ZoneInfo(tz_name or "Asia/Tokyo")
    day_before = starts_at.astimezone(zone).date() - timedelta(days=1)
    return datetime.combine(day_before, at, tzinfo=zone).astimezone(timezone.utc)


def reminder_text(template: str, booking: Booking, shop: Shop, friend: LineFriend) -> str:
    """The reminder's text for one booking."""
    return fill(template, {
        CUSTOMER_NAME: booking.full_name, WHEN: when_label(booking, shop.timezone), MENU: booking.service_name,
        SHOP_NAME: shop.name, PAGE: booking_page_url(shop), LINE_NAME: friend.display_name or _("お客様"),
    })


def _candidates(now):
    return db.session.execute(
        sa.select(Booking.id, Booking.shop_id, Booking.starts_at, Booking.created_at, Shop.timezone, AutoReplySettings.reminder_time,
                  LineFriend.id.label("friend_id"))
        .join(Shop, Shop.id == Booking.shop_id)
        .join(LineFriend, sa.and_(LineFriend.customer_id == Booking.customer_id,
                                  LineFriend.shop_id == Booking.shop_id))
        .outerjoin(AutoReplySettings, AutoReplySettings.shop_id == Booking.shop_id)
        .outerjoin(BookingReminder, BookingReminder.booking_id == Booking.id)
        .where(
            Booking.status == BookingStatus.BOOKED, Booking.starts_at > now, Booking.starts_at <= now + LOOK_AHEAD,
            BookingReminder.id.is_(None), LineFriend.followed.is_(True),
            sa.or_(AutoReplySettings.id.is_(None), AutoReplySettings.reminder_enabled.is_(True)),
            line_tab_clause(now),
        )
        .order_by(Booking.starts_at)
        .limit(BATCH)
    ).all()


def send_due_reminders(now: datetime | None = None) -> int:
    """Write (once) and queue every reminder that is due; returns how many were queued.

    A booking made after its reminder time (the day before) gets none: its
    confirmation has just been sent.
    """
    now = now or utcnow()
    queued = 0
    settings_cache: dict[int, AutoReplySettings] = {}
    for row in _candidates(now):
        due = due_at(row.starts_at, row.timezone, row.reminder_time or DEFAULT_REMINDER_TIME)
        if now < due or row.created_at >= due:
            continue
        reminder_id = db.session.scalar(
            insert_ignoring(BookingReminder.__table__, ["booking_id"]).values(
                booking_id=row.id, friend_id=row.friend_id, due_at=due, created_at=now,
                shop_id=row.shop_id,
            ).returning(BookingReminder.id)
        )
        if reminder_id is None:
            continue  # another tick wrote it
        booking = db.session.get(Booking, row.id)
        shop = db.session.get(Shop, row.shop_id)
        friend = db.session.get(LineFriend, row.friend_id)
        if booking is None or shop is None or friend is None:
            continue  # deleted since the query above: nothing to remind of
        settings = settings_cache.get(shop.id)
        if settings is None:
            settings = settings_cache[shop.id] = (
                db.session.scalars(sa.select(AutoReplySettings).where(AutoReplySettings.shop_id == shop.id)).first()
                or default_settings(shop.id))
        message = queue_messages(friend, [text_message(reminder_text(settings.reminder_text, booking, shop, friend))],
                                 origin=Origin.AUTO.value, origin_id=reminder_id, origin_label=_("予約リマインダー"))
        message.scheduled_at = due  # a scheduled message always pushes, with its retry key
        db.session.execute(sa.update(BookingReminder).where(BookingReminder.id == reminder_id)
                           .values(message_id=message.id).execution_options(synchronize_session=False))
        queued += 1
    return queued


def reminder_of(booking_id: int) -> BookingReminder | None:
    return db.session.scalars(sa.select(BookingReminder).where(BookingReminder.booking_id == booking_id)).first()


def message_of(reminder: BookingReminder) -> LineMessage | None:
    return db.session.get(LineMessage, reminder.message_id) if reminder.message_id else None
