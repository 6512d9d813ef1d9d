"""Webhook events as LINE delivered them: stored once, processed in the background."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import UTCDateTime, utcnow
from crm.extensions import db
from crm.shops.models import ShopOwnedMixin


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
