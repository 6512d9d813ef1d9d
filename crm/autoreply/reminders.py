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
from crm.line_platform.sending import Outgoing, queue_many
from crm.shops.models import Shop
from crm.shops.plans import line_tab_clause

LOOK_AHEAD = timedelta(days=2)  # a reminder is due at most a day and a bit before its booking
BATCH = 2000  # candidates read per query
CHUNK = 500  # reminders written per INSERT (well inside SQLite's and PostgreSQL's parameter limits)


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


def _candidates(now, after=None):
    """One page (BATCH rows, by start time) of the bookings that may have a reminder to write."""
    stmt = (
        sa.select(Booking.id, Booking.shop_id, Booking.starts_at, Booking.created_at, Shop.timezone,
                  AutoReplySettings.reminder_time, LineFriend.id.label("friend_id"))
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
        .order_by(Booking.starts_at, Booking.id, LineFriend.id)
        .limit(BATCH)
    )
    if after is not None:
        stmt = stmt.where(sa.tuple_(Booking.starts_at, Booking.id) > after)
    return db.session.execute(stmt).all()


def _due(now):
    """[(candidate, due)] for every booking whose reminder is due now, one per booking, every page read.

    The due time depends on the shop's timezone and reminder time, so it is
    checked here; the pages go on past bookings whose reminder is not due yet
    (or never: made after it), so those never hide a due one.
    """
    found, after = {}, None
    while True:
        page = _candidates(now, after)
        for row in page:
            due = due_at(row.starts_at, row.timezone, row.reminder_time or DEFAULT_REMINDER_TIME)
            if due <= now and row.created_at < due:
                found.setdefault(row.id, (row, due))  # a customer with two LINE friends: the first
        if len(page) < BATCH:
            return list(found.values())
        after = (page[-1].starts_at, page[-1].id)


def _write(now, due):
    """Write (once) and queue the reminders of one chunk of due bookings; returns how many were queued."""
    written = dict(db.session.execute(
        insert_ignoring(BookingReminder.__table__, ["booking_id"]).values([
            {"booking_id": row.id, "friend_id": row.friend_id, "due_at": at, "created_at": now, "shop_id": row.shop_id}
            for row, at in due
        ]).returning(BookingReminder.booking_id, BookingReminder.id)
    ).all())  # another tick's rows are left out: it sends those
    if not written:
        return 0
    due = [(row, at) for row, at in due if row.id in written]
    bookings = _by_id(Booking, {row.id for row, _at in due})
    friends = _by_id(LineFriend, {row.friend_id for row, _at in due})
    shops = _by_id(Shop, {row.shop_id for row, _at in due})
    settings = {s.shop_id: s for s in db.session.scalars(
        sa.select(AutoReplySettings).where(AutoReplySettings.shop_id.in_(shops)))}
    items = []
    for row, at in due:
        booking, shop, friend = bookings.get(row.id), shops.get(row.shop_id), friends.get(row.friend_id)
        if booking is None or shop is None or friend is None:
            continue  # deleted since the query above: nothing to remind of
        template = (settings.get(shop.id) or default_settings(shop.id)).reminder_text
        # scheduled_at: a scheduled message always pushes, with its retry key
        items.append(Outgoing(friend, [text_message(reminder_text(template, booking, shop, friend))],
                              origin_id=written[row.id], scheduled_at=at))
    messages = queue_many(items, origin=Origin.AUTO.value, origin_label=_("予約リマインダー"))
    if messages:
        db.session.execute(sa.update(BookingReminder), [{"id": m.origin_id, "message_id": m.id} for m in messages])
    return len(messages)


def _by_id(model, ids):
    return {row.id: row for row in db.session.scalars(sa.select(model).where(model.id.in_(ids)))}


def send_due_reminders(now: datetime | None = None) -> int:
    """Write (once) and queue every reminder that is due; returns how many were queued.

    A booking made after its reminder time (the day before) gets none: its
    confirmation has just been sent.  Set-wise: a few statements per CHUNK
    reminders, and their pushes go out LINE_DELIVER_BATCH per job, so a
    thousand reminders falling due at one minute take seconds, not minutes.
    """
    now = now or utcnow()
    due = sorted(_due(now), key=lambda d: d[0].id)  # the same order in every tick: concurrent ones never deadlock
    return sum(_write(now, due[start:start + CHUNK]) for start in range(0, len(due), CHUNK))


def reminder_of(booking_id: int) -> BookingReminder | None:
    return db.session.scalars(sa.select(BookingReminder).where(BookingReminder.booking_id == booking_id)).first()


def message_of(reminder: BookingReminder) -> LineMessage | None:
    return db.session.get(LineMessage, reminder.message_id) if reminder.message_id else None
