"""Shared by the broadcasts tests: bookings, tags and sandbox friends for segment and delivery tests."""
from datetime import timedelta

from crm.bookings.models import Booking, BookingStatus, Service
from crm.customers.models import CustomerTag, Tag
from crm.extensions import db
from tests.factories import make_customer, make_friend


def service(shop, name="カット"):
    row = Service(shop_id=shop.id, name=name, duration_minutes=60, price_yen=4400)
    db.session.add(row)
    db.session.flush()
    return row


def booking(shop, customer, svc, starts_at, status=BookingStatus.BOOKED):
    row = Booking(shop_id=shop.id, customer_id=customer.id, service_id=svc.id, service_name=svc.name,
                  price_yen=svc.price_yen, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1),
                  status=status, family_name=customer.family_name, phone="09000000000")
    db.session.add(row)
    db.session.flush()
    return row


def tag(shop, customer, name="VIP"):
    row = db.session.query(Tag).filter_by(shop_id=shop.id, name=name).first()
    if row is None:
        row = Tag(shop_id=shop.id, name=name)
        db.session.add(row)
        db.session.flush()
    db.session.add(CustomerTag(customer_id=customer.id, tag_id=row.id, shop_id=shop.id))
    db.session.flush()
    return row


def friends(line_shop, n, prefix="配信", followed=True, **customer_fields):
    """n customers linked to sandbox friends of the shop's channel; returns [(customer, friend, user)]."""
    sandbox, cid = line_shop.sandbox, line_shop.sandbox_channel["channel_id"]
    out = []
    for i in range(n):
        user = sandbox.add_user(display_name=f"{prefix}{i}")
        sandbox.set_friendship(cid, user["user_id"], "friend" if followed else "blocked")
        customer = make_customer(line_shop.shop, family_name=f"{prefix}{i}", given_name="様子", **customer_fields)
        friend = make_friend(line_shop.shop, customer=customer, line_user_id=user["user_id"], followed=followed)
        out.append((customer, friend, user))
    return out


def everyone():
    return {"op": "and", "groups": [{"op": "and", "conditions": []}]}


def where(*conditions, op="and"):
    return {"op": "and", "groups": [{"op": op, "conditions": list(conditions)}]}
