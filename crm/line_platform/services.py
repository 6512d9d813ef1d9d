"""Operations on the shop's LINE channel and friends. Services flush; requests commit."""
import sqlalchemy as sa

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
