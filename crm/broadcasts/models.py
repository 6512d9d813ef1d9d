"""Saved segments, broadcasts, their delivery batches and recipients.

PostgreSQL is the source of truth for a running broadcast: every batch (one
multicast of up to 500, or up to 500 pushes) and every recipient has a status,
and each LINE call's X-Line-Retry-Key is in a row committed before the call.
"""
import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.database import TimestampMixin, UTCDateTime, str_enum
from crm.extensions import db
from crm.shops.models import ShopOwnedMixin


class Segment(ShopOwnedMixin, TimestampMixin, db.Model):
    """A saved set of conditions (see segments.py for the definition's shape)."""

    __tablename__ = "broadcast_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    definition: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)

    __table_args__ = (sa.UniqueConstraint("shop_id", "name", name="uq_broadcast_segments_shop_name"),)


class BroadcastStatus(enum.StrEnum):
    DRAFT = "draft"  # 下書き
    PENDING = "pending_approval"  # 承認待ち (a staff member's broadcast)
    RETURNED = "returned"  # 差し戻し
    SCHEDULED = "scheduled"  # 送信予約
    QUEUED = "queued"  # to be prepared (recipients and batches written)
    SENDING = "sending"  # 配信中
    DONE = "done"  # 配信完了
    CANCELLED = "cancelled"  # 取り消し (before or during sending)
    FAILED = "failed"  # refused when it was due (quota, channel)


STATUS_LABELS = {
    BroadcastStatus.DRAFT: _l("下書き"),
    BroadcastStatus.PENDING: _l("承認待ち"),
    BroadcastStatus.RETURNED: _l("差し戻し"),
    BroadcastStatus.SCHEDULED: _l("送信予約"),
    BroadcastStatus.QUEUED: _l("配信準備中"),
    BroadcastStatus.SENDING: _l("配信中"),
    BroadcastStatus.DONE: _l("配信完了"),
    BroadcastStatus.CANCELLED: _l("取り消し"),
    BroadcastStatus.FAILED: _l("配信できませんでした"),
}
EDITABLE = (BroadcastStatus.DRAFT, BroadcastStatus.RETURNED, BroadcastStatus.PENDING, BroadcastStatus.SCHEDULED)
RUNNING = (BroadcastStatus.QUEUED, BroadcastStatus.SENDING)


class Broadcast(ShopOwnedMixin, TimestampMixin, db.Model):
    """One 一斉配信: who (a segment definition, copied), what (text, coupon), when, and its results."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")
    segment_definition: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    # The coupon's fields as the owner typed them; coupon_id once LINE created it.
    coupon: Mapped[dict | None] = mapped_column(sa.JSON)
    coupon_id: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[BroadcastStatus] = mapped_column(str_enum(BroadcastStatus, length=24), nullable=False,
                                                    default=BroadcastStatus.DRAFT)
    mode: Mapped[str | None] = mapped_column(sa.String(12))  # multicast or push, decided when prepared
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    review_comment: Mapped[str | None] = mapped_column(sa.Text)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure_reason: Mapped[str | None] = mapped_column(sa.Text)
    recipient_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    # When status changed to QUEUED: the tick prepares a queued broadcast whose job was lost.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    author = relationship("Staff", foreign_keys=[author_id], lazy="raise")
    approved_by = relationship("Staff", foreign_keys=[approved_by_id], lazy="raise")

    __table_args__ = (
        sa.Index("ix_broadcasts_shop_created", "shop_id", "created_at"),
        sa.Index("ix_broadcasts_status_scheduled", "status", "scheduled_at"),
    )

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE

    @property
    def running(self) -> bool:
        return self.status in RUNNING


class BatchStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class BroadcastBatch(db.Model):
    """Up to 500 recipients sent together: one multicast (retry_key here) or their pushes (keys on recipients)."""

    __tablename__ = "broadcast_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(sa.ForeignKey("broadcasts.id", ondelete="CASCADE"), nullable=False)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    # The recipients are the broadcast's rows with first_recipient_id <= id <= last_recipient_id.
    first_recipient_id: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    last_recipient_id: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    status: Mapped[BatchStatus] = mapped_column(str_enum(BatchStatus), nullable=False, default=BatchStatus.PENDING)
    retry_key: Mapped[str] = mapped_column(sa.String(36), nullable=False, unique=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    sent_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    failed_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    blocked_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    failure_reason: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (sa.Index("ix_broadcast_batches_status", "status", "claimed_until"),
                      sa.Index("ix_broadcast_batches_broadcast", "broadcast_id", "status"))


class RecipientStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"  # the friend blocked the shop's account: not sent, not counted against the quota
    CANCELLED = "cancelled"


class BroadcastRecipient(db.Model):
    """One customer of a broadcast, written (in one INSERT ... SELECT) when it is prepared."""

    __tablename__ = "broadcast_recipients"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(sa.ForeignKey("broadcasts.id", ondelete="CASCADE"), nullable=False)
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id", ondelete="SET NULL"))
    friend_id: Mapped[int | None] = mapped_column(sa.ForeignKey("line_friends.id", ondelete="SET NULL"))
    line_user_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    status: Mapped[RecipientStatus] = mapped_column(str_enum(RecipientStatus), nullable=False,
                                                    default=RecipientStatus.PENDING)
    # Pushes only: each recipient's own key, generated in the INSERT, so it exists before any call.
    retry_key: Mapped[str | None] = mapped_column(sa.String(36))
    failure_reason: Mapped[str | None] = mapped_column(sa.String(200))

    __table_args__ = (
        sa.UniqueConstraint("broadcast_id", "customer_id", name="uq_broadcast_recipients_customer"),
        # Serves a batch's range (broadcast, status, id) and the progress counts (index only).
        sa.Index("ix_broadcast_recipients_progress", "broadcast_id", "status", "id"),
    )
