"""LINE friends and the customers they are linked to."""
import sqlalchemy as sa

from crm import signals
from crm.conversations.models import LineFriend
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
