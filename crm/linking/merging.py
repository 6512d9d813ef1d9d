"""Moving what belongs to one customer record onto another: the merge service's machinery.

Domains with rows that belong to a customer register a mover here (bookings do),
so linking never imports the domains above it.  Services flush; the request commits.
"""
from collections.abc import Callable

import sqlalchemy as sa

from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.customers.tags import move_tags
from crm.extensions import db
from crm.linking.models import LinkRequest

# (keep, remove): move every row of `remove` to `keep`, so a merge moves them instead of
# deleting them with the removed record. The ledger's own tags and 配信停止 are listed
# here (customers imports nothing above it); bookings add theirs.
MERGE_MOVERS: list[Callable[[Customer, Customer], None]] = [move_tags]
# (friend_id, stray, customer): move the rows this LINE friend made for the stray record
# (a booking kept there while its link request waited) to the customer the owner chose.
STRAY_MOVERS: list[Callable[[int, Customer, Customer], None]] = []


def lock_friend(friend_id: int) -> LineFriend:
    """The friend's row as it is now, locked on PostgreSQL until the commit."""
    # populate_existing: the row as it is now (after waiting for the lock), not as
    # this session last saw it, or a concurrent link would go unnoticed.
    stmt = sa.select(LineFriend).where(LineFriend.id == friend_id).execution_options(populate_existing=True)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return db.session.scalars(stmt).one()


def linked_friend_id(customer: Customer) -> int | None:
    """The id of the LINE friend linked to the customer, if any."""
    return db.session.scalar(sa.select(LineFriend.id).where(LineFriend.customer_id == customer.id))


def move_and_delete(keep: Customer, remove: Customer) -> None:
    """Move every row that belongs to `remove` (bookings, the LINE link, requests) to `keep`, then delete it."""
    remove_friend = linked_friend_id(remove)
    for mover in MERGE_MOVERS:
        mover(keep, remove)
    if remove_friend:
        lock_friend(remove_friend).customer_id = keep.id
    db.session.execute(
        sa.update(LinkRequest).where(LinkRequest.resolved_customer_id == remove.id).values(resolved_customer_id=keep.id)
    )
    db.session.delete(remove)
    db.session.flush()
