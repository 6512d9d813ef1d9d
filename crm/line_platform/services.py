"""Operations on the shop's LINE channel and friends. Services flush; requests commit."""
import sqlalchemy as sa

from crm.conversations.models import LineFriend, LineMessage
from crm.extensions import db
from crm.line_platform.channels import webhook_url
from crm.shops.models import LineChannel, LineChannelStatus


def channel_for_shop(shop_id, create=True):
    """The shop's channel row (created empty, with its webhook key, when missing)."""
    channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == shop_id)).first()
    if channel is None and create:
        channel = LineChannel(shop_id=shop_id)
        db.session.add(channel)
        db.session.flush()
    return channel


def save_channel(channel, channel_id, secret, token):
    """Store credentials (blank secret or token keeps the stored one); returns missing fields."""
    missing = []
    if not secret and not channel.channel_secret:
        missing.append("channel_secret")
    if not token and not channel.channel_access_token:
        missing.append("channel_access_token")
    if missing:
        return missing
    channel.channel_id = channel_id.strip()
    if secret:
        channel.channel_secret = secret.strip()
    if token:
        channel.channel_access_token = token.strip()
    channel.status = LineChannelStatus.UNCONFIGURED
    db.session.flush()
    return []


def webhook_url_of(channel):
    return webhook_url(channel) if channel is not None else None


def unlinked_friends(shop_id):
    """Friends without a customer, most recent message first, with their message counts."""
    counts = (
        sa.select(LineMessage.friend_id, sa.func.count().label("n"))
        .where(LineMessage.shop_id == shop_id, LineMessage.direction == "in")
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


def customers_by_id(shop_id, ids):
    """{id: customer} for a set of ids of the shop, in one query."""
    from crm.customers.models import Customer

    if not ids:
        return {}
    rows = db.session.scalars(sa.select(Customer).where(Customer.shop_id == shop_id, Customer.id.in_(ids))).all()
    return {c.id: c for c in rows}
