"""Read state of a conversation: unread from the oldest unread message, read when someone
opens it or replies, 後で通知 sets it again.

Services flush; the request commits.
"""
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from crm import signals
from crm.conversations.models import Direction, LineFriend, LineMessage, LineRead
from crm.database import utcnow
from crm.extensions import db
from crm.staff.models import Staff


def record_incoming(friend: LineFriend, message: LineMessage) -> None:
    """A customer's message makes the conversation unread (from its oldest unread message).

    A conversation set aside until a time (後で通知 with 通知する日時) comes back at once:
    the customer wrote again.
    """
    when = message.sent_at or utcnow()
    became_unread = friend.unread_since is None
    if friend.unread_since is None or when < friend.unread_since:
        friend.unread_since = when
    friend.unread_count += 1
    friend.remind_at = None
    if became_unread:
        signals.read_state_changed.send(friend)


def mark_read(friend: LineFriend, staff: Staff | None) -> bool:
    """Someone opened the LINE tab (or replied): read, and who read it is recorded."""
    if friend.unread_since is None:
        return False
    now = utcnow()
    db.session.add(LineRead(shop_id=friend.shop_id, friend_id=friend.id, staff_id=staff.id if staff else None,
                            read_at=now, unread_count=friend.unread_count))
    friend.unread_since = None
    friend.unread_count = 0
    friend.notify_later_at = None
    friend.notify_later_by_id = None
    friend.remind_at = None
    friend.last_read_at = now
    friend.last_read_by_id = staff.id if staff else None
    db.session.flush()
    signals.read_state_changed.send(friend)
    return True


def notify_later(friend: LineFriend, staff: Staff | None, remind_at: datetime | None = None) -> None:
    """後で通知: back to unread, so the digests keep showing it until someone answers.

    With a time (remind_at) it leaves the yellow bar until then (see visible_in_bar), and
    fire_reminders brings it back and notifies who set it aside; without one it stays in the bar.
    """
    now = utcnow()
    if friend.unread_since is None:
        last_incoming = db.session.scalar(
            sa.select(sa.func.max(LineMessage.sent_at)).where(
                LineMessage.friend_id == friend.id, LineMessage.direction == Direction.INCOMING
            )
        )
        friend.unread_since = last_incoming or now
        friend.unread_count = max(friend.unread_count, 1)
        signals.read_state_changed.send(friend)
    friend.notify_later_at = now
    friend.notify_later_by_id = staff.id if staff else None
    friend.remind_at = remind_at
    db.session.flush()


def visible_in_bar(now: datetime) -> sa.ColumnElement[bool]:
    """SQL: a conversation the yellow bar counts now, i.e. not set aside until a later time."""
    return sa.or_(LineFriend.remind_at.is_(None), LineFriend.remind_at <= now)


def fire_reminders(now: datetime | None = None) -> int:
    """Every 後で通知 whose time came: back in the yellow bar, signal reminder_due, each at most once.

    The guarded UPDATE (remind_at still the value read) lets one caller win when several ticks run.
    """
    now = now or utcnow()
    due = db.session.execute(
        sa.select(LineFriend.id, LineFriend.remind_at).where(LineFriend.remind_at <= now).limit(500)
    ).all()
    fired = 0
    for friend_id, remind_at in due:
        won = cast(sa.CursorResult[Any], db.session.execute(
            sa.update(LineFriend).where(LineFriend.id == friend_id, LineFriend.remind_at == remind_at)
            .values(remind_at=None, updated_at=now).execution_options(synchronize_session=False)
        )).rowcount
        if not won:
            continue
        friend = db.session.get(LineFriend, friend_id, populate_existing=True)
        if friend is None or friend.unread_since is None:
            continue  # answered meanwhile: nothing to remind of
        signals.reminder_due.send(friend, staff_id=friend.notify_later_by_id, remind_at=remind_at)
        fired += 1
    db.session.flush()
    return fired


@signals.message_received.connect
def _incoming_makes_unread(friend: LineFriend, message: LineMessage, **_: object) -> None:
    record_incoming(friend, message)
