"""A conversation in keyset pages, oldest first, and what changed since the last poll."""
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from crm.conversations.models import LineMessage
from crm.extensions import db

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
