"""A friend's conversation: keyset pages, polling, read state, 後で通知, the inbox and the yellow bar.

Services flush; the request commits.
"""
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from crm.customers.models import Customer
from crm.database import utcnow
from crm.extensions import db
from crm.line_tab.models import Direction, LineFriend, LineMessage, LineRead

PAGE_SIZE = 30


@dataclass
class MessagePage:
    messages: list  # oldest first
    has_older: bool

    @property
    def cursor(self):
        """Keyset cursor of the oldest message shown: "<sent_at iso>|<id>"."""
        if not self.messages:
            return None
        first = self.messages[0]
        return f"{first.sent_at.isoformat()}|{first.id}"


def _with_people(stmt):
    return stmt.options(selectinload(LineMessage.sender), selectinload(LineMessage.approved_by))


def parse_cursor(cursor):
    """(sent_at, id) from a cursor, or None for a malformed one."""
    try:
        stamp, _, message_id = (cursor or "").rpartition("|")
        return datetime.fromisoformat(stamp), int(message_id)
    except ValueError:
        return None


def page(friend, before=None, size=PAGE_SIZE):
    """The newest `size` messages (or those before a cursor), by (sent_at, id): never the whole history."""
    stmt = sa.select(LineMessage).where(LineMessage.friend_id == friend.id, LineMessage.shop_id == friend.shop_id)
    if before is not None:
        sent_at, message_id = before
        stmt = stmt.where(sa.tuple_(LineMessage.sent_at, LineMessage.id) < sa.tuple_(sent_at, message_id))
    rows = db.session.scalars(
        _with_people(stmt).order_by(LineMessage.sent_at.desc(), LineMessage.id.desc()).limit(size + 1)
    ).all()
    return MessagePage(messages=list(reversed(rows[:size])), has_older=len(rows) > size)


def since(friend, after_id, changed_since):
    """For polling: messages stored after `after_id`, and older ones changed since `changed_since`."""
    new = db.session.scalars(
        _with_people(sa.select(LineMessage))
        .where(LineMessage.friend_id == friend.id, LineMessage.id > after_id)
        .order_by(LineMessage.sent_at, LineMessage.id)
    ).all()
    changed = []
    if changed_since is not None:
        changed = db.session.scalars(
            _with_people(sa.select(LineMessage)).where(
                LineMessage.friend_id == friend.id,
                LineMessage.id <= after_id,
                LineMessage.updated_at > changed_since,
            )
        ).all()
    return new, changed


def latest_id(messages, fallback=0):
    return max((m.id for m in messages), default=fallback)


def record_incoming(friend, message):
    """A customer's message makes the conversation unread (from its oldest unread message)."""
    if friend.unread_since is None or message.sent_at < friend.unread_since:
        friend.unread_since = message.sent_at
    friend.unread_count += 1


def mark_read(friend, staff):
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


def notify_later(friend, staff, remind_at=None):
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


def unread_summary(shop_id: int, except_friend_id: int | None = None):
    """(conversations, messages, oldest unread time) of the shop, in one query; without the one on screen."""
    where = [LineFriend.shop_id == shop_id, LineFriend.unread_since.is_not(None)]
    if except_friend_id:
        # ... unless someone set it aside (後で通知): that one was asked to stay in the bar.
        where.append(sa.or_(LineFriend.id != except_friend_id, LineFriend.notify_later_at.is_not(None)))
    row = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(LineFriend.unread_count), 0),
                  sa.func.min(LineFriend.unread_since))
        .where(*where)
    ).one()
    return row[0], int(row[1]), row[2]


def unread_conversations(shop_id, limit=50):
    """Unread conversations, oldest first, with their customers."""
    return db.session.execute(
        sa.select(LineFriend, Customer)
        .outerjoin(Customer, Customer.id == LineFriend.customer_id)
        .where(LineFriend.shop_id == shop_id, LineFriend.unread_since.is_not(None))
        .order_by(LineFriend.unread_since, LineFriend.id)
        .limit(limit)
    ).all()


def inbox(shop_id, limit=100):
    """Conversations, most recent first, unread marked, with the customer and the last message."""
    last = (
        sa.select(LineMessage.friend_id, sa.func.max(LineMessage.id).label("last_id"))
        .where(LineMessage.shop_id == shop_id)
        .group_by(LineMessage.friend_id)
        .subquery()
    )
    return db.session.execute(
        sa.select(LineFriend, Customer, LineMessage)
        .join(last, last.c.friend_id == LineFriend.id)
        .join(LineMessage, LineMessage.id == last.c.last_id)
        .outerjoin(Customer, Customer.id == LineFriend.customer_id)
        .where(LineFriend.shop_id == shop_id)
        .order_by(LineFriend.last_message_at.desc().nulls_last(), LineFriend.id.desc())
        .limit(limit)
    ).all()
