"""Moving what belongs to one customer record onto another: the merge service's machinery.

Domains with rows that belong to a customer move them when told, through
crm/signals.py (customers_merging, stray_customer_settling), so linking never
imports the domains above it.  Services flush; the request commits.
"""
import sqlalchemy as sa
from flask_babel import gettext as _

from crm import signals
from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.extensions import db
from crm.linking.errors import LinkError
from crm.linking.models import LinkRequest


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
    signals.customers_merging.send(keep, remove=remove)
    if remove_friend:
        lock_friend(remove_friend).customer_id = keep.id
    db.session.execute(
        sa.update(LinkRequest).where(LinkRequest.resolved_customer_id == remove.id).values(resolved_customer_id=keep.id)
    )
    db.session.delete(remove)
    db.session.flush()


def merge_customers(keep: Customer, remove: Customer) -> Customer:
    """Merge `remove` into `keep`: bookings, the LINE link, requests and blank fields move; nothing is lost."""
    if keep.id == remove.id or keep.shop_id != remove.shop_id:
        raise LinkError(_("同じ顧客同士は統合できません。"))
    keep_friend = linked_friend_id(keep)
    remove_friend = linked_friend_id(remove)
    if keep_friend and remove_friend:
        raise LinkError(_("両方の顧客がLINE連携済みです。先にどちらかの連携を解除してください。"))
    for attr in ("given_name", "family_name_kana", "given_name_kana", "email", "birthday"):
        if not getattr(keep, attr) and getattr(remove, attr):
            setattr(keep, attr, getattr(remove, attr))
    if not keep.phone and remove.phone:
        keep.phone, keep.phone_e164 = remove.phone, remove.phone_e164
        keep.phone_national, keep.phone_national_reversed = remove.phone_national, remove.phone_national_reversed
    if remove.memo:
        keep.memo = "\n".join(part for part in (keep.memo, remove.memo) if part)
    keep.refresh_match_keys()
    move_and_delete(keep, remove)
    return keep

