"""A conversation's handling, as in LINE Official Account Manager's chat: 要対応 / 対応済み,
the 担当者 (one staff member), and 迷惑メッセージ.

- A new incoming message sets 要対応 (message_received).
- A staff member's outgoing message (sent now, approved or scheduled) sets 対応済み:
  whenever an outgoing message gets its author, it answered what was waiting.
- The buttons set either mark by hand.
- 迷惑メッセージ hides the friend from the inbox, the yellow bar and the digests; its
  messages still arrive and are kept (the shop's history), and 要対応 is not set by them.

Read state (未読, 後で通知) is separate and unchanged: crm/conversations/read_state.py.
Services flush; the request commits.
"""
import enum
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from crm import signals
from crm.conversations.models import Direction, LineFriend, LineMessage
from crm.database import utcnow
from crm.errors import UserError
from crm.extensions import db
from crm.staff.models import Staff


class Attention(enum.StrEnum):
    OPEN = "open"  # 要対応
    DONE = "done"  # 対応済み


class AssigneeRefused(UserError):
    """The chosen 担当者 is not an active staff member of the shop."""


def set_attention(friend: LineFriend, attention: Attention | str | None) -> None:
    """Mark the conversation 要対応 or 対応済み (or neither)."""
    value = Attention(attention).value if attention else None
    if friend.attention != value:
        friend.attention = value
        friend.attention_changed_at = utcnow()
    db.session.flush()


def assignable_staff(shop_id: int) -> list[Staff]:
    """The shop's active staff, owner first, who may be a conversation's 担当者."""
    return list(db.session.scalars(
        sa.select(Staff).where(Staff.shop_id == shop_id, Staff.active.is_(True))
        .order_by(sa.case((Staff.role == "owner", 0), else_=1), Staff.name, Staff.id)
    ))


def assign(friend: LineFriend, staff_id: int | None) -> Staff | None:
    """Give the conversation to one staff member of the shop, or to nobody (None)."""
    if staff_id is None:
        friend.assignee_id = None
        db.session.flush()
        return None
    staff = db.session.get(Staff, staff_id)
    if staff is None or staff.shop_id != friend.shop_id or not staff.active:
        raise AssigneeRefused(_("担当者はこの店舗の有効なスタッフから選んでください。"), field="assignee_id")
    friend.assignee_id = staff.id
    db.session.flush()
    return staff


def set_spam(friend: LineFriend, spam: bool) -> None:
    """迷惑メッセージ on or off."""
    if spam and friend.spam_at is None:
        friend.spam_at = utcnow()
    elif not spam:
        friend.spam_at = None
    db.session.flush()


def visible(column: Any = LineFriend.spam_at) -> ColumnElement[bool]:
    """The clause that leaves 迷惑メッセージ friends out (inbox, yellow bar, digests)."""
    clause: ColumnElement[bool] = column.is_(None)
    return clause


def mine(staff: Staff) -> ColumnElement[bool]:
    """The clause of 自分の担当: conversations assigned to this staff member."""
    return LineFriend.assignee_id == staff.id


@signals.message_received.connect
def _incoming_needs_attention(friend: LineFriend, message: LineMessage, **_: object) -> None:
    if friend.spam_at is None:
        set_attention(friend, Attention.OPEN)


def _authored_now(session: Session, message: LineMessage) -> bool:
    """True when this flush gives an outgoing message its staff author."""
    if message.direction != Direction.OUTGOING or message.origin is not None:
        return False
    if message in session.new:
        return message.sender_id is not None or message.approved_by_id is not None
    state: Any = sa.inspect(message)
    return any(state.attrs[name].history.added and getattr(message, name) is not None
               for name in ("sender_id", "approved_by_id"))


@sa.event.listens_for(Session, "before_flush")
def _reply_is_done(session: Session, _context: object, _instances: object) -> None:
    # One place for every way a reply is written (the composer, an approved draft, a
    # 送信予約): sending.queue_messages learns the author only after it flushed the row.
    friend_ids = {m.friend_id for m in (*session.new, *session.dirty)
                  if isinstance(m, LineMessage) and m.friend_id is not None and _authored_now(session, m)}
    if not friend_ids:
        return
    now = utcnow()
    with session.no_autoflush:
        for friend_id in friend_ids:
            friend = session.get(LineFriend, friend_id)
            if friend is not None and friend.attention != Attention.DONE.value:
                friend.attention = Attention.DONE.value
                friend.attention_changed_at = now
