"""The shop's conversations: the inbox (LINEトーク), the unread ones (イエローバー) and their count."""
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Row

from crm.conversations.models import LineFriend, LineMessage
from crm.conversations.read_state import visible_in_bar
from crm.customers.models import Customer
from crm.database import utcnow
from crm.extensions import db


def unread_summary(shop_id: int, except_friend_id: int | None = None) -> tuple[int, int, datetime | None]:
    """(conversations, messages, oldest unread time) of the shop, in one query; without the one on screen.

    What is set aside until a later time (後で通知 with 通知する日時) is not counted until then.
    """
    where = [LineFriend.shop_id == shop_id, LineFriend.unread_since.is_not(None), visible_in_bar(utcnow())]
    if except_friend_id:
        # ... unless someone set it aside (後で通知): that one was asked to stay in the bar.
        where.append(sa.or_(LineFriend.id != except_friend_id, LineFriend.notify_later_at.is_not(None)))
    row = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(LineFriend.unread_count), 0),
                  sa.func.min(LineFriend.unread_since))
        .where(*where)
    ).one()
    return int(row[0]), int(row[1]), row[2]


def unread_conversations(shop_id: int, limit: int = 50) -> Sequence[Row[tuple[LineFriend, Customer]]]:
    # (The customer is None for a friend not linked yet: an outer join.)
    """Unread conversations, oldest first, with their customers."""
    return db.session.execute(
        sa.select(LineFriend, Customer)
        .outerjoin(Customer, Customer.id == LineFriend.customer_id)
        .where(LineFriend.shop_id == shop_id, LineFriend.unread_since.is_not(None))
        .order_by(LineFriend.unread_since, LineFriend.id)
        .limit(limit)
    ).all()


def inbox(shop_id: int, limit: int = 100) -> Sequence[Row[tuple[LineFriend, Customer, LineMessage]]]:
    """Conversations by their last message (either direction), newest first, with the customer and that message."""
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


def inbox_stamp(shop_id: int) -> str:
    """The inbox's live check: the shop's newest message time, one lookup on (shop_id, last_message_at).

    Every message in either direction moves it, so an unchanged stamp means nothing new to show.
    """
    newest = db.session.scalar(
        sa.select(sa.func.max(LineFriend.last_message_at)).where(LineFriend.shop_id == shop_id)
    )
    return newest.isoformat() if newest is not None else "0"
