"""LINE friends of a shop's LINE Official Account, their link to a customer, their messages."""
import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.database import TimestampMixin, UTCDateTime, str_enum
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

    # Read state of the conversation: unread from the oldest unread message
    # until someone opens the LINE tab or replies; 後で通知 sets it again.
    unread_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unread_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0, server_default="0")
    notify_later_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notify_later_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_read_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))

    # The conversation's handling (crm/conversations/status.py): 要対応 / 対応済み, its 担当者,
    # and 迷惑メッセージ (hidden from the inbox, the yellow bar and the digests while set).
    attention: Mapped[str | None] = mapped_column(sa.String(8))  # Attention: "open" 要対応, "done" 対応済み
    attention_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    spam_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    customer = relationship("Customer", back_populates="line_friend", lazy="raise")
    last_read_by = relationship("Staff", foreign_keys=[last_read_by_id], lazy="select")

    __table_args__ = (
        sa.UniqueConstraint("shop_id", "line_user_id", name="uq_line_friends_shop_user"),
        sa.Index("ix_line_friends_shop_unread", "shop_id", "unread_since"),
        sa.Index("ix_line_friends_shop_last_message", "shop_id", "last_message_at"),
        sa.Index("ix_line_friends_remind_at", "remind_at"),
        sa.Index("ix_line_friends_shop_attention", "shop_id", "attention", "last_message_at"),
        sa.Index("ix_line_friends_shop_assignee", "shop_id", "assignee_id", "last_message_at"),
    )

    @property
    def unread(self) -> bool:
        return self.unread_since is not None

    @property
    def blocked(self) -> bool:
        return not self.followed

    @property
    def spam(self) -> bool:
        return self.spam_at is not None

    def __repr__(self) -> str:
        return f"<LineFriend {self.id} {self.line_user_id} customer={self.customer_id}>"


class Direction(enum.StrEnum):
    INCOMING = "in"
    OUTGOING = "out"
    # ノート: an internal note of staff, inline in the conversation, never sent to LINE.
    NOTE = "note"


class SendStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # 送信予約: waits for scheduled_at
    HELD = "held"  # 保留: a scheduled message of a shop that is not premium
    QUEUED = "queued"  # written, not yet handed to LINE
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # 送信状況を確認できません: a reply timed out or its connection broke after the request
    # was sent, so LINE may have delivered it; never pushed automatically, staff may 再送.
    UNCONFIRMED = "unconfirmed"
    CANCELLED = "cancelled"



class Origin(enum.StrEnum):
    """What wrote an outgoing message other than a staff member."""

    AUTO = "auto"  # 自動応答: あいさつ, 時間外, キーワード応答, reminders
    BROADCAST = "broadcast"  # 一斉配信


class LineMessage(ShopOwnedMixin, TimestampMixin, db.Model):
    """One message of a friend's conversation, in either direction."""

    __tablename__ = "line_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    friend_id: Mapped[int] = mapped_column(sa.ForeignKey("line_friends.id", ondelete="CASCADE"), nullable=False)
    direction: Mapped[Direction] = mapped_column(str_enum(Direction), nullable=False)
    message_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # text, image, sticker, ...
    text: Mapped[str | None] = mapped_column(sa.Text)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False, default=dict)
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
    status: Mapped[SendStatus | None] = mapped_column(str_enum(SendStatus))
    sender_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    retry_key: Mapped[str | None] = mapped_column(sa.String(36), unique=True)
    via: Mapped[str | None] = mapped_column(sa.String(8))  # reply or push
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    failure_reason: Mapped[str | None] = mapped_column(sa.Text)
    line_request_id: Mapped[str | None] = mapped_column(sa.String(64))
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # While 送信中: the claiming worker's lease, renewed as it retries; once past, the tick resends.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    # One per composed message: a double click, a retried request or a second
    # tab submitting the same composition finds this row instead of sending again.
    client_key: Mapped[str | None] = mapped_column(sa.String(64))
    # Who or what wrote it: None for staff (sender_id says who), or an Origin
    # (自動応答, 一斉配信, ...) with origin_id naming the rule or broadcast row.
    origin: Mapped[str | None] = mapped_column(sa.String(16))
    origin_id: Mapped[int | None] = mapped_column(sa.Integer)

    friend = relationship("LineFriend", lazy="raise")
    sender = relationship("Staff", foreign_keys=[sender_id], lazy="raise")
    approved_by = relationship("Staff", foreign_keys=[approved_by_id], lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("shop_id", "line_message_id", name="uq_line_messages_shop_line_message"),
        sa.UniqueConstraint("shop_id", "client_key", name="uq_line_messages_shop_client_key"),
        sa.Index("ix_line_messages_friend_sent", "friend_id", "sent_at", "id"),
        sa.Index("ix_line_messages_friend_id", "friend_id", "id"),  # a conversation's newest message (the inbox)
        sa.Index("ix_line_messages_shop_newest", "shop_id", "id"),  # search walks the shop's messages newest first
        sa.Index("ix_line_messages_status_scheduled", "status", "scheduled_at"),
    )

    @property
    def hidden(self) -> bool:
        return self.unsent_at is not None


class LineRead(ShopOwnedMixin, db.Model):
    """Who read a conversation, and when: one row each time someone opens the LINE tab with unread messages."""

    __tablename__ = "line_reads"

    id: Mapped[int] = mapped_column(primary_key=True)
    friend_id: Mapped[int] = mapped_column(sa.ForeignKey("line_friends.id", ondelete="CASCADE"), nullable=False)
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    read_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    unread_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)

    staff = relationship("Staff", lazy="raise")

    __table_args__ = (sa.Index("ix_line_reads_friend", "friend_id", "read_at"),)
