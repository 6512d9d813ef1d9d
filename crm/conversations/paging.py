"""A conversation in keyset pages, oldest first, and what changed since the last poll."""
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Select
from sqlalchemy.orm import selectinload

from crm.conversations.models import LineFriend, LineMessage
from crm.database import UTCDateTime
from crm.extensions import db

PAGE_SIZE = 30


@dataclass
class MessagePage:
    messages: list[LineMessage]  # oldest first
    has_older: bool

    @property
    def cursor(self) -> str | None:
        """Keyset cursor of the oldest message shown: "<sent_at iso>|<id>"."""
        first = self.messages[0] if self.messages else None
        if first is None or first.sent_at is None:
            return None
        return f"{first.sent_at.isoformat()}|{first.id}"


def _with_people(stmt: Select[tuple[LineMessage]]) -> Select[tuple[LineMessage]]:
    return stmt.options(selectinload(LineMessage.sender), selectinload(LineMessage.approved_by))


def parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """(sent_at, id) from a cursor, or None for a malformed one."""
    try:
        stamp, _, message_id = (cursor or "").rpartition("|")
        return datetime.fromisoformat(stamp), int(message_id)
    except ValueError:
        return None


def page(friend: LineFriend, before: tuple[datetime, int] | None = None, size: int = PAGE_SIZE) -> MessagePage:
    """The newest `size` messages (or those before a cursor), by (sent_at, id): never the whole history."""
    stmt = sa.select(LineMessage).where(LineMessage.friend_id == friend.id, LineMessage.shop_id == friend.shop_id)
    if before is not None:
        sent_at, message_id = before
        cursor = sa.tuple_(sa.literal(sent_at, UTCDateTime()), sa.literal(message_id))
        stmt = stmt.where(sa.tuple_(LineMessage.sent_at, LineMessage.id) < cursor)
    rows = db.session.scalars(
        _with_people(stmt).order_by(LineMessage.sent_at.desc(), LineMessage.id.desc()).limit(size + 1)
    ).all()
    return MessagePage(messages=list(reversed(rows[:size])), has_older=len(rows) > size)


def since(friend: LineFriend, after_id: int, changed_since: datetime | None) -> tuple[list[LineMessage], list[LineMessage]]:
    """For polling: messages stored after `after_id`, and older ones changed since `changed_since`."""
    new = list(db.session.scalars(
        _with_people(sa.select(LineMessage))
        .where(LineMessage.friend_id == friend.id, LineMessage.id > after_id)
        .order_by(LineMessage.sent_at, LineMessage.id)
    ))
    changed: list[LineMessage] = []
    if changed_since is not None:
        changed = list(db.session.scalars(
            _with_people(sa.select(LineMessage)).where(
                LineMessage.friend_id == friend.id,
                LineMessage.id <= after_id,
                LineMessage.updated_at > changed_since,
            )
        ))
    return new, changed


def latest_id(messages: Iterable[LineMessage], fallback: int = 0) -> int:
    """The newest message id shown (the poll asks for what came after it)."""
    return max((m.id for m in messages), default=fallback)
