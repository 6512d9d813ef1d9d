"""Digest bookkeeping: one run per (shop, date, slot), one send per (staff, date, slot), notifications."""
import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import UTCDateTime, str_enum, utcnow
from crm.extensions import db
from crm.shops.models import ShopOwnedMixin


class RunStatus(enum.StrEnum):
    SENT = "sent"  # digests were written for the shop's staff
    EMPTY = "empty"  # nothing was unread at the slot: no digest
    SKIPPED = "skipped"  # the scheduler came back more than the catch-up window late


class SendStatus(enum.StrEnum):
    PENDING = "pending"  # written with its notification; channels not yet tried
    SENDING = "sending"  # claimed by a scheduler (a stale claim is taken over)
    SENT = "sent"  # every channel was tried
    SKIPPED = "skipped"  # claimed too late to be worth sending


class ChannelStatus(enum.StrEnum):
    OFF = "off"  # not configured, not connected or turned off by the staff member
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class NotificationSettings(ShopOwnedMixin, db.Model):
    """A staff member's digest settings and their connection to the notification channel."""

    __tablename__ = "notification_settings"

    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    digest_opt_out: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    digest_email: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    # The staff member's own LINE user id on the notification channel.
    line_user_id: Mapped[str | None] = mapped_column(sa.String(64))
    line_display_name: Mapped[str | None] = mapped_column(sa.String(120))
    line_connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The one-time code the staff member sends to the notification bot (SHA-256, hex).
    link_code_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    link_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The rich menu variant last linked to line_user_id ("normal" or "unread").
    rich_menu_variant: Mapped[str | None] = mapped_column(sa.String(16))
    # 新着の通知 on the staff LINE: none (digests only), new conversations, or every message.
    instant_mode: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="none", server_default="none")
    # Quiet hours in the shop's timezone ("22:00" to "08:00"; both or neither): nothing instant then.
    quiet_from: Mapped[str | None] = mapped_column(sa.String(5))
    quiet_until: Mapped[str | None] = mapped_column(sa.String(5))

    __table_args__ = (sa.Index("ix_notification_settings_line_user", "line_user_id"),)

    @property
    def line_connected(self):
        return self.line_user_id is not None


class DigestRun(ShopOwnedMixin, db.Model):
    """A shop's slot, decided once: written before anything is sent, so a second scheduler does nothing."""

    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    local_date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    slot: Mapped[str] = mapped_column(sa.String(5), nullable=False)  # "08:00", "20:00"
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    status: Mapped[RunStatus] = mapped_column(str_enum(RunStatus), nullable=False)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    customers: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    messages: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)

    __table_args__ = (sa.UniqueConstraint("shop_id", "local_date", "slot", name="uq_digest_runs_shop_date_slot"),)


class DigestSend(ShopOwnedMixin, db.Model):
    """One staff member's digest of one slot; UNIQUE (staff_id, local_date, slot): at most one, ever."""

    __tablename__ = "digest_sends"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("digest_runs.id", ondelete="CASCADE"), nullable=False,
                                        index=True)
    local_date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    slot: Mapped[str] = mapped_column(sa.String(5), nullable=False)
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    status: Mapped[SendStatus] = mapped_column(str_enum(SendStatus), nullable=False, default=SendStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    line_status: Mapped[ChannelStatus | None] = mapped_column(str_enum(ChannelStatus))
    # X-Line-Retry-Key of the push: a push retried after a crash is delivered once.
    line_retry_key: Mapped[str] = mapped_column(sa.String(36), nullable=False)
    line_error: Mapped[str | None] = mapped_column(sa.Text)
    email_status: Mapped[ChannelStatus | None] = mapped_column(str_enum(ChannelStatus))
    email_error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.UniqueConstraint("staff_id", "local_date", "slot", name="uq_digest_sends_staff_date_slot"),
        sa.Index("ix_digest_sends_status", "status", "claimed_at"),
    )


class Notification(ShopOwnedMixin, db.Model):
    """An entry of a staff member's in-app notification list (通知)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="digest")
    # The digest's numbers and customers, as they were at the slot (see services.digest_content).
    data: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    digest_send_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("digest_sends.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (sa.Index("ix_notifications_staff_created", "staff_id", "created_at"),)


class InstantNotice(ShopOwnedMixin, db.Model):
    """新着の通知: the messages of one minute for one staff member, pushed once.

    UNIQUE (staff_id, slot): at most one push per staff member and minute, whatever
    the number of messages, web processes or retries; the database is the source of truth.
    """

    __tablename__ = "instant_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False)
    slot: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)  # the minute it is sent in
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="pending")  # pending, sent, failed
    first_message_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    last_message_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    messages: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    line_retry_key: Mapped[str] = mapped_column(sa.String(36), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.UniqueConstraint("staff_id", "slot", name="uq_instant_notices_staff_slot"),
        sa.Index("ix_instant_notices_status_slot", "status", "slot"),
    )


class NotifyRichMenu(db.Model):
    """The notification channel's two staff rich menus (normal, unread), created once by setup."""

    __tablename__ = "notify_rich_menus"

    channel_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    variant: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    rich_menu_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
