"""Webhook deliveries and events as LINE sent them: kept at once, split and processed in the background."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import UTCDateTime, utcnow
from crm.extensions import db
from crm.shops.models import ShopOwnedMixin


class LineWebhookDelivery(db.Model):
    """One verified webhook request, its body exactly as LINE signed it, until the drain splits it.

    The request only inserts this row (one index to maintain, one statement) and
    answers LINE; the drain turns it into LineWebhookEvent rows, one per
    webhookEventId, and deletes it in the same transaction.
    """

    __tablename__ = "line_webhook_deliveries"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    # Carried like every shop-owned row, but not indexed: a row lives for seconds,
    # and an index would cost every webhook request a second write.
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    # A delivery that cannot be split waits with its error instead of holding up the others.
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0, server_default=sa.text("0"))
    error: Mapped[str | None] = mapped_column(sa.Text)


class LineWebhookEvent(ShopOwnedMixin, db.Model):
    __tablename__ = "line_webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: redeliveries and concurrent duplicates store one row.
    webhook_event_id: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    event_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    mode: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="active")
    source_type: Mapped[str | None] = mapped_column(sa.String(16))
    source_user_id: Mapped[str | None] = mapped_column(sa.String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    is_redelivery: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    payload: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.Index("ix_line_webhook_events_unprocessed", "processed_at", "occurred_at"),)
