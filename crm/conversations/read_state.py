"""Read state of a conversation: unread from the oldest unread message, read when someone
opens it or replies, 後で通知 sets it again.

Services flush; the request commits.
"""
from datetime import datetime

import sqlalchemy as sa

from crm import signals
from crm.conversations.models import Direction, LineFriend, LineMessage, LineRead
from crm.database import utcnow
from crm.extensions import db
from crm.staff.models import Staff


def record_incoming(friend: LineFriend, message: LineMessage) -> None:
    """A customer's message makes the conversation unread (from its oldest unread message)."""
    when = message.sent_at or utcnow()
    if friend.unread_since is None or when < friend.unread_since:
        friend.unread_since = when
    friend.unread_count += 1


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
    return True


def notify_later(friend: LineFriend, staff: Staff | None, remind_at: datetime | None = None) -> None:
    """後で通知: back to unread, so the yellow bar and the digests keep showing it until someone answers."""
    now = utcnow()
    if friend.unread_since is None:
        last_incoming = db.session.scalar(
            sa.select(sa.func.max(LineMessage.sent_at)).where(
                LineMessage.friend_id == friend.id, LineMessage.direction == Direction.INCOMING
            )
        )
        friend.unread_since = last_incoming or now
        friend.unread_count = max(friend.unread_count, 1)
    friend.notify_later_at = now
    friend.notify_later_by_id = staff.id if staff else None
    friend.remind_at = remind_at
    db.session.flush()


@signals.message_received.connect
def _incoming_makes_unread(friend: LineFriend, message: LineMessage, **_: object) -> None:
    record_incoming(friend, message)
