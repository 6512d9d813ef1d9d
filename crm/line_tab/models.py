"""LINE friends of a shop's LINE Official Account, their link to a customer, their messages."""
import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.database import TimestampMixin, UTCDateTime
from crm.extensions import db
from crm.shops.models import ShopOwnedMixin


class LineFriend(ShopOwnedMixin, TimestampMixin, db.Model):
    __tablename__ = "line_friends"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_user_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    display_name: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    picture_url: Mapped[str | None] = mapped_column(sa.String(500))
    followed: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    profile_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Unique: a customer is linked to at most one LINE friend of the shop.
    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="SET NULL"), unique=True
    )
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Time of the newest follow/unfollow applied, so late deliveries do not win.
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The newest reply token LINE gave us for this friend; replies are free.
    reply_token: Mapped[str | None] = mapped_column(sa.String(255))
    reply_token_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    customer = relationship("Customer", back_populates="line_friend", lazy="raise")

    __table_args__ = (sa.UniqueConstraint("shop_id", "line_user_id", name="uq_line_friends_shop_user"),)

    @property
    def blocked(self):
        return not self.followed

    def __repr__(self):
        return f"<LineFriend {self.id} {self.line_user_id} customer={self.customer_id}>"


class Direction(enum.StrEnum):
    INCOMING = "in"
    OUTGOING = "out"


class SendStatus(enum.StrEnum):
    QUEUED = "queued"  # written, not yet handed to LINE
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def _str_enum(enum_cls):
    return sa.Enum(enum_cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class LineMessage(ShopOwnedMixin, TimestampMixin, db.Model):
    """One message of a friend's conversation, in either direction."""

    __tablename__ = "line_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    friend_id: Mapped[int] = mapped_column(sa.ForeignKey("line_friends.id", ondelete="CASCADE"), nullable=False)
    direction: Mapped[Direction] = mapped_column(_str_enum(Direction), nullable=False)
    message_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # text, image, sticker, ...
    text: Mapped[str | None] = mapped_column(sa.Text)
    payload: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    # When it was said: the event timestamp for incoming, the send time for outgoing.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # incoming
    line_message_id: Mapped[str | None] = mapped_column(sa.String(32))
    webhook_event_id: Mapped[str | None] = mapped_column(sa.String(64))
    media_path: Mapped[str | None] = mapped_column(sa.String(255))
    media_content_type: Mapped[str | None] = mapped_column(sa.String(100))
    media_status: Mapped[str | None] = mapped_column(sa.String(16))  # pending, stored, failed
    unsent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # outgoing
    status: Mapped[SendStatus | None] = mapped_column(_str_enum(SendStatus))
    sender_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    retry_key: Mapped[str | None] = mapped_column(sa.String(36), unique=True)
    via: Mapped[str | None] = mapped_column(sa.String(8))  # reply or push
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    failure_reason: Mapped[str | None] = mapped_column(sa.Text)
    line_request_id: Mapped[str | None] = mapped_column(sa.String(64))

    friend = relationship("LineFriend", lazy="raise")
    sender = relationship("Staff", lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("shop_id", "line_message_id", name="uq_line_messages_shop_line_message"),
        sa.Index("ix_line_messages_friend_sent", "friend_id", "sent_at", "id"),
    )

    @property
    def hidden(self):
        return self.unsent_at is not None
