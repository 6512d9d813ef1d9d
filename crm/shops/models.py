"""The shop, i.e. the tenant."""
import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.crypto import EncryptedText
from crm.database import TimestampMixin, UTCDateTime, str_enum
from crm.extensions import db


class Plan(enum.StrEnum):
    BASIC = "basic"
    PREMIUM = "premium"
    TRIAL = "trial"


def new_booking_key():
    """An unguessable slug for the shop's public booking page (/book/<key>)."""
    import secrets

    return secrets.token_urlsafe(16)


class Shop(TimestampMixin, db.Model):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    timezone: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="Asia/Tokyo")
    plan: Mapped[str] = mapped_column(
        str_enum(Plan),
        nullable=False,
        default=Plan.BASIC,
    )
    plan_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    booking_key: Mapped[str] = mapped_column(sa.String(43), nullable=False, default=new_booking_key)
    # Off: a link from the rich-menu form (name and phone only) waits for the owner (確認待ち).
    link_automatically: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False,
                                                     server_default=sa.false())

    staff = relationship("Staff", back_populates="shop", lazy="raise", passive_deletes=True)

    __table_args__ = (sa.Index("ix_shops_booking_key", "booking_key", unique=True),)

    def __repr__(self):
        return f"<Shop {self.id} {self.name!r}>"


class ShopOwnedMixin:
    """Every shop-owned row carries shop_id; load such rows with get_for_shop_or_404."""

    @sa.orm.declared_attr
    def shop_id(cls) -> Mapped[int]:
        return mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False, index=True)


class LineChannelStatus(enum.StrEnum):
    UNCONFIGURED = "unconfigured"
    OK = "ok"
    MISCONFIGURED = "misconfigured"


def new_webhook_key():
    """An unguessable key for the shop's webhook URL."""
    import secrets

    return secrets.token_urlsafe(24)


class LineChannel(TimestampMixin, db.Model):
    """The shop's LINE Official Account (Messaging API channel); secrets encrypted at rest."""

    __tablename__ = "line_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False, unique=True)
    webhook_key: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True, default=new_webhook_key)
    channel_id: Mapped[str | None] = mapped_column(sa.String(32))
    channel_secret: Mapped[str | None] = mapped_column(EncryptedText())
    # Bumped with every change of the secret: the webhook stores a delivery only
    # while the version it verified with is current, so no process's cached
    # secret outlives a change (crm.line_platform.deliveries).
    secret_version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0, server_default="0")
    channel_access_token: Mapped[str | None] = mapped_column(EncryptedText())
    status: Mapped[LineChannelStatus] = mapped_column(
        str_enum(LineChannelStatus),
        nullable=False,
        default=LineChannelStatus.UNCONFIGURED,
    )
    status_detail: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bot_user_id: Mapped[str | None] = mapped_column(sa.String(64))
    bot_display_name: Mapped[str | None] = mapped_column(sa.String(120))
    bot_basic_id: Mapped[str | None] = mapped_column(sa.String(64))
    chat_mode: Mapped[str | None] = mapped_column(sa.String(16))
    rich_menu_id: Mapped[str | None] = mapped_column(sa.String(64))
    # The LINE Login channel linked to this Official Account (booking page sign-in).
    login_channel_id: Mapped[str | None] = mapped_column(sa.String(32))
    login_channel_secret: Mapped[str | None] = mapped_column(EncryptedText())

    shop = relationship("Shop", lazy="joined", innerjoin=True)

    @property
    def configured(self):
        return bool(self.channel_secret and self.channel_access_token)


@sa.event.listens_for(LineChannel.channel_secret, "set")
def _bump_secret_version(channel, value, old, initiator):
    """Any new channel secret, wherever it is assigned, gets a new version."""
    if value == old:
        return
    if sa.inspect(channel).persistent:
        # In SQL, so that two concurrent saves cannot both write the same version.
        channel.secret_version = LineChannel.__table__.c.secret_version + 1
    else:
        channel.secret_version = (channel.secret_version or 0) + 1
