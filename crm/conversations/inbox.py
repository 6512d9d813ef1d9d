"""The shop's conversations: the inbox (LINEトーク), the unread ones (イエローバー) and their count."""
from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Row

from crm.conversations.models import Direction, LineFriend, LineMessage
from crm.conversations.read_state import visible_in_bar
from crm.customers.models import Customer
from crm.database import utcnow
from crm.extensions import db


def _unread_where(shop_id: int, assignee_id: int | None = None,
                  except_friend_id: int | None = None) -> list[ColumnElement[bool]]:
    # 迷惑メッセージ never counts as unread; 自分の担当のみ keeps the staff member's own conversations.
    where = [LineFriend.shop_id == shop_id, LineFriend.unread_since.is_not(None), LineFriend.spam_at.is_(None)]
    if assignee_id is not None:
        where.append(LineFriend.assignee_id == assignee_id)
    if except_friend_id:
        # ... the conversation on screen is being read, not announced, unless someone set it
        # aside (後で通知): that one was asked to stay in the bar.
        where.append(sa.or_(LineFriend.id != except_friend_id, LineFriend.notify_later_at.is_not(None)))
    return where


def unread_summary(shop_id: int, assignee_id: int | None = None,
                   except_friend_id: int | None = None) -> tuple[int, int, datetime | None]:
    """(conversations, messages, oldest unread time) of the shop (or of one 担当者), in one query.

    What is set aside until a later time (後で通知 with 通知する日時) is not counted until then.
    """
    row = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(LineFriend.unread_count), 0),
                  sa.func.min(LineFriend.unread_since))
        .where(*_unread_where(shop_id, assignee_id, except_friend_id), visible_in_bar(utcnow()))
    ).one()
    return int(row[0]), int(row[1]), row[2]


def unread_conversations(shop_id: int, limit: int = 50,
                         assignee_id: int | None = None) -> Sequence[Row[tuple[LineFriend, Customer]]]:
    """Unread conversations (of one 担当者 if given), oldest first, with their customers (None: not linked yet)."""
    return db.session.execute(
        sa.select(LineFriend, Customer)
        .outerjoin(Customer, Customer.id == LineFriend.customer_id)
        .where(*_unread_where(shop_id, assignee_id))
        .order_by(LineFriend.unread_since, LineFriend.id)
        .limit(limit)
    ).all()


def inbox(shop_id: int, limit: int = 100,
          where: Iterable[ColumnElement[bool]] = ()) -> Sequence[Row[tuple[LineFriend, Customer, LineMessage]]]:
    """Conversations by their last message (either direction), newest first, with the customer and that message.

    `where`: more clauses on line_friends (the inbox filters, crm/conversations/inbox_filters.py).
    A conversation is a friend with a chat message (received, or written to them: that sets
    last_message_at); one who only ever got 一斉配信 is not listed. The friends are walked in
    the list's order along (shop_id[, filter], last_message_at) and each one's newest message is
    one probe of (friend_id, id): the cost follows the page, not the shop's history (a GROUP BY
    over every message took a second at a million).
    """
    last_id = (
        sa.select(LineMessage.id)
        .where(LineMessage.friend_id == LineFriend.id, LineMessage.direction != Direction.NOTE)  # a ノート is no message
        .order_by(LineMessage.id.desc())
        .limit(1)
        .correlate(LineFriend)
        .scalar_subquery()
    )
    return db.session.execute(
        sa.select(LineFriend, Customer, LineMessage)
        .join(LineMessage, LineMessage.id == last_id)
        .outerjoin(Customer, Customer.id == LineFriend.customer_id)
        .where(LineFriend.shop_id == shop_id, LineFriend.last_message_at.is_not(None), *where)
        .order_by(LineFriend.last_message_at.desc(), LineFriend.id.desc())
        .limit(limit)
    ).all()


def inbox_stamp(shop_id: int) -> str:
    """The inbox's live check: the shop's newest message time, one lookup on (shop_id, last_message_at).

    Every message in either direction moves it, so an unchanged stamp means nothing new to show.
    """
    newest = db.session.scalar(
        sa.select(sa.func.max(LineFriend.last_message_at)).where(LineFriend.shop_id == shop_id)
    )
    return newest.isoformat() if newest is not None else "0"
