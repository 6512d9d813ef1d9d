"""Shared by the drafts and scheduling tests: a customer linked to a sandbox LINE friend."""
import sqlalchemy as sa

from crm.conversations.models import Direction, LineMessage
from crm.extensions import db as _db
from tests.factories import make_customer, make_friend


def linked(line_shop, family_name="山田", display_name="はなこ"):
    """(customer, friend, sandbox user): the user is a friend of the shop's sandbox channel."""
    sandbox, cid = line_shop.sandbox, line_shop.sandbox_channel["channel_id"]
    user = sandbox.add_user(display_name=display_name)
    sandbox.set_friendship(cid, user["user_id"], "friend")
    customer = make_customer(line_shop.shop, family_name=family_name)
    friend = make_friend(line_shop.shop, customer=customer, display_name=display_name, line_user_id=user["user_id"])
    return customer, friend, user


def outgoing():
    _db.session.expire_all()
    return _db.session.scalars(
        sa.select(LineMessage).where(LineMessage.direction == Direction.OUTGOING).order_by(LineMessage.id)
    ).all()


def sent_texts(line_shop):
    """Texts the sandbox delivered for the shop's channel, in order."""
    sent = line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])
    return [m["text"] for s in sent for m in s["messages"] if m.get("type") == "text"]


def tab(client, customer):
    return client.htmx_get(f"/customers/{customer.id}/line", "customer-tabs").get_data(as_text=True)


def htmx_post(client, url, data):
    data = dict(data)
    data.setdefault("csrf_token", client.csrf_token())
    return client.post(url, data=data, headers={"HX-Request": "true", "HX-Target": "customer-tabs"})
