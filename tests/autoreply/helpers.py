"""Shared by the automatic-response tests: sandbox users acting, what the sandbox delivered."""
import sqlalchemy as sa

from crm.autoreply.models import AutoReplyFire
from crm.conversations.models import Direction, LineFriend, LineMessage
from crm.extensions import db as _db


def relay(client, line_shop, user, event):
    """The sandbox builds a real event for `user` (with a reply token); the app receives it as LINE sends it."""
    built = line_shop.sandbox.send(line_shop.sandbox_channel["channel_id"], user["user_id"], event)["event"]
    assert line_shop.post_events(client, [built]).status_code == 200
    return built


def say(client, line_shop, user, text):
    return relay(client, line_shop, user, {"type": "message", "message": {"type": "text", "text": text}})


def follow(client, line_shop, user):
    return relay(client, line_shop, user, {"type": "follow"})


def friend_of(user):
    _db.session.expire_all()
    return _db.session.scalars(sa.select(LineFriend).where(LineFriend.line_user_id == user["user_id"])).one()


def auto_messages():
    _db.session.expire_all()
    return _db.session.scalars(
        sa.select(LineMessage).where(LineMessage.direction == Direction.OUTGOING, LineMessage.origin == "auto")
        .order_by(LineMessage.id)
    ).all()


def delivered(line_shop):
    """[(via, [message objects])] the sandbox delivered for the shop's channel."""
    return [(s["via"], s["messages"]) for s in line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])]


def fires():
    return _db.session.scalars(sa.select(AutoReplyFire).order_by(AutoReplyFire.id)).all()
