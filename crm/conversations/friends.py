"""LINE friends and the customers they are linked to."""
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Row

from crm import signals
from crm.conversations.models import Direction, LineFriend, LineMessage
from crm.customers.models import Customer
from crm.extensions import db


def friend_of(customer: Customer) -> LineFriend | None:
    """The LINE friend linked to this customer, or None."""
    return db.session.scalars(
        sa.select(LineFriend).where(LineFriend.customer_id == customer.id, LineFriend.shop_id == customer.shop_id)
    ).first()


@signals.customer_deleted.connect
def _unlink_deleted_customer(customer: Customer, **_: object) -> None:
    # The friend stays, unlinked, with everything it sent: the history is the shop's.
    db.session.execute(
        sa.update(LineFriend)
        .where(LineFriend.customer_id == customer.id, LineFriend.shop_id == customer.shop_id)
        .values(customer_id=None, linked_at=None)
    )


def unlinked_friends(shop_id: int) -> Sequence[Row[tuple[LineFriend, int]]]:
    """Friends without a customer, most recent message first, with their message counts."""
    counts = (
        sa.select(LineMessage.friend_id, sa.func.count().label("n"))
        .where(LineMessage.shop_id == shop_id, LineMessage.direction == Direction.INCOMING)
        .group_by(LineMessage.friend_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(LineFriend, sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.friend_id == LineFriend.id)
        .where(LineFriend.shop_id == shop_id, LineFriend.customer_id.is_(None))
        .order_by(LineFriend.last_message_at.desc().nulls_last(), LineFriend.id.desc())
    ).all()
    return rows
