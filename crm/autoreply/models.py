"""The shop's automatic-response settings, its keyword rules, weekly hours, 休業日, and what fired."""
import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import TimestampMixin, UTCDateTime, str_enum
from crm.extensions import db
from crm.shops.models import ShopOwnedMixin

DEFAULT_REMINDER_TIME = time(18, 0)
DEFAULT_AWAY_WINDOW_HOURS = 12
MAX_RULES = 200


class HoursSource(enum.StrEnum):
    BOOKING = "booking"  # the booking page's 営業時間 and 臨時休業日
    CUSTOM = "custom"  # this page's own weekly ranges and 休業日


class MatchType(enum.StrEnum):
    EXACT = "exact"  # 完全一致
    CONTAINS = "contains"  # 部分一致
    PREFIX = "prefix"  # 前方一致


class ReplyKind(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    BOOKINGS = "bookings"  # 「予約確認」: the linked customer's upcoming bookings, else the linking card


class FireKind(enum.StrEnum):
    GREETING = "greeting"
    AWAY = "away"  # 時間外
    HOLIDAY = "holiday"  # 休業日
    KEYWORD = "keyword"
    OPT_OUT = "opt_out"  # the built-in 「配信停止」 (crm/autoreply/opt_out.py)


class AutoReplySettings(ShopOwnedMixin, TimestampMixin, db.Model):
    """One row per shop; a shop without one has the defaults (greeting and 時間外 off, reminders on)."""

    __tablename__ = "autoreply_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    greeting_enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # Up to 5 bubbles: [{"kind": "text", "text": ...}, {"kind": "image", "url": ...}, {"kind": "link_card"}]
    greeting_bubbles: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    refollow_text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")

    away_enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    hours_source: Mapped[HoursSource] = mapped_column(str_enum(HoursSource), nullable=False,
                                                      default=HoursSource.BOOKING)
    away_text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    holiday_text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    away_window_hours: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=DEFAULT_AWAY_WINDOW_HOURS)
    # An answer whose reply token LINE refused (expired) is pushed only when this is on.
    push_when_late: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)

    # Bumped on every rule edit: each process keeps the shop's compiled rules until it changes.
    rules_version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)

    reminder_enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    reminder_time: Mapped[time] = mapped_column(sa.Time, nullable=False, default=DEFAULT_REMINDER_TIME)
    reminder_text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")

    __table_args__ = (sa.UniqueConstraint("shop_id", name="uq_autoreply_settings_shop"),
                      sa.CheckConstraint("away_window_hours >= 0", name="away_window_not_negative"))


class AutoReplyHours(ShopOwnedMixin, db.Model):
    """One range of the own 応答時間 (several per weekday); minutes from local midnight, 1440 = 24:00."""

    __tablename__ = "autoreply_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)  # 0 = Monday
    opens_minute: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    closes_minute: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)

    __table_args__ = (
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        sa.CheckConstraint("opens_minute >= 0 AND opens_minute < closes_minute AND closes_minute <= 1440",
                           name="opens_before_closing"),
    )


class AutoReplyClosure(ShopOwnedMixin, db.Model):
    """休業日: one day or a range of days (inclusive) with the own hours."""

    __tablename__ = "autoreply_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_day: Mapped[date] = mapped_column(sa.Date, nullable=False)
    last_day: Mapped[date] = mapped_column(sa.Date, nullable=False)
    note: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")

    __table_args__ = (sa.CheckConstraint("first_day <= last_day", name="first_day_before_last"),)


class KeywordRule(ShopOwnedMixin, TimestampMixin, db.Model):
    """キーワード応答: a keyword, how it matches, what it answers; higher priority wins."""

    __tablename__ = "autoreply_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    keyword: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    match_type: Mapped[MatchType] = mapped_column(str_enum(MatchType), nullable=False, default=MatchType.EXACT)
    priority: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    reply_kind: Mapped[ReplyKind] = mapped_column(str_enum(ReplyKind), nullable=False, default=ReplyKind.TEXT)
    reply_text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    image_url: Mapped[str] = mapped_column(sa.String(1000), nullable=False, default="")


class AutoReplyFire(ShopOwnedMixin, db.Model):
    """One automatic answer to one webhook event: UNIQUE (shop_id, webhook_event_id) makes it once."""

    __tablename__ = "autoreply_fires"

    id: Mapped[int] = mapped_column(primary_key=True)
    friend_id: Mapped[int] = mapped_column(sa.ForeignKey("line_friends.id", ondelete="CASCADE"), nullable=False)
    webhook_event_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    kind: Mapped[FireKind] = mapped_column(str_enum(FireKind), nullable=False)
    rule_id: Mapped[int | None] = mapped_column(sa.Integer)  # the keyword rule, when one answered
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("line_messages.id", ondelete="SET NULL"))
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # The event's reply token and when LINE gave it (the greeting is written by a job after the commit).
    reply_token: Mapped[str | None] = mapped_column(sa.String(255))
    refollow: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)

    __table_args__ = (
        sa.UniqueConstraint("shop_id", "webhook_event_id", name="uq_autoreply_fires_shop_event"),
        sa.Index("ix_autoreply_fires_friend_kind", "friend_id", "kind", "fired_at"),
    )


class BookingReminder(ShopOwnedMixin, db.Model):
    """The reminder of one booking: UNIQUE booking_id, so it is written (and sent) once."""

    __tablename__ = "autoreply_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("bookings.id", ondelete="CASCADE"), nullable=False,
                                            unique=True)
    friend_id: Mapped[int | None] = mapped_column(sa.ForeignKey("line_friends.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("line_messages.id", ondelete="SET NULL"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
