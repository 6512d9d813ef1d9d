"""Merging two records of the same customer: the ledger's fields, the LINE link, and every domain's rows."""
import sqlalchemy as sa
from flask_babel import gettext as _

from crm import signals
from crm.customers.models import Customer
from crm.extensions import db
from crm.linking.models import LinkRequest
from crm.linking.services import LinkError, linked_friend_id, lock_friend


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
    signals.customers_merging.send(keep, remove=remove)
    if remove_friend:
        lock_friend(remove_friend).customer_id = keep.id
    db.session.execute(
        sa.update(LinkRequest).where(LinkRequest.resolved_customer_id == remove.id).values(resolved_customer_id=keep.id)
    )
    db.session.delete(remove)
    db.session.flush()
    return keep

