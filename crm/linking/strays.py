"""Records a booking made while its LINE link request waited, and what happens to them when it is answered.

A friend signed in with LINE Login books as 鈴木 花 with the phone of 鈴木 恵子:
the link waits for the owner, and the booking is kept on a record made for
the typed details, as the page without LINE would.  When the owner answers,
what the request made (that friend's bookings) moves to the chosen customer,
and the record is removed through the merge service if nothing else of its
own is left.  A record with its own history is never deleted; the owner is
offered the merge instead.  Services flush; the request commits.
"""
import sqlalchemy as sa

from crm import signals
from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.extensions import db
from crm.linking.merging import move_and_delete
from crm.linking.models import LinkRequest


def note_made_customer(request: LinkRequest, customer: Customer) -> None:
    """Remember that a booking made `customer` while `request` waited."""
    if customer.id not in (request.made_customer_ids or []):
        request.made_customer_ids = [*(request.made_customer_ids or []), customer.id]  # a new list: JSON change tracked
        db.session.flush()


def made_customers(request: LinkRequest) -> list[Customer]:
    """The records the request's bookings made that still exist, oldest first."""
    ids = request.made_customer_ids or []
    if not ids:
        return []
    return list(db.session.scalars(
        sa.select(Customer).where(Customer.id.in_(ids), Customer.shop_id == request.shop_id).order_by(Customer.id)
    ))


def free_stray(request: LinkRequest) -> Customer | None:
    """A record the request's booking made that no LINE friend holds yet (for 「新しい顧客として登録」)."""
    for customer in made_customers(request):
        held = db.session.scalar(sa.select(LineFriend.id).where(LineFriend.customer_id == customer.id))
        if held is None:
            return customer
    return None


def has_own_history(customer: Customer) -> bool:
    """Anything at all points at the record (any table's foreign key), or the owner wrote in it."""
    if customer.memo or customer.email or customer.birthday:
        return True
    column = Customer.__table__.c.id
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column is column:
                found = db.session.scalar(sa.select(sa.literal(1)).select_from(table)
                                          .where(fk.parent == customer.id).limit(1))
                if found:
                    return True
    return False


def settle_strays(request: LinkRequest, customer: Customer) -> list[Customer]:
    """Move what the request made to `customer`; remove the records left empty. Returns the ones kept."""
    kept = []
    for stray in made_customers(request):
        if stray.id == customer.id:
            continue
        # e.g. the friend's bookings kept on the stray record
        signals.stray_customer_settling.send(stray, friend_id=request.friend_id, customer=customer)
        if has_own_history(stray):
            kept.append(stray)
        else:
            move_and_delete(customer, stray)  # the merge service: nothing it could hold is dropped
    request.made_customer_ids = [c.id for c in kept] + ([customer.id] if customer.id in (request.made_customer_ids or []) else [])
    db.session.flush()
    return kept
