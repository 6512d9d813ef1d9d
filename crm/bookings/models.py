"""The menu (services), business hours, closed days, bookings and the slot units they hold."""
import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.database import TimestampMixin, UTCDateTime, str_enum
from crm.extensions import db
from crm.shops.models import ShopOwnedMixin

SLOT_MINUTES = 30  # the unit of the booking grid; durations are multiples of it



class Service(ShopOwnedMixin, TimestampMixin, db.Model):
    """One item of the shop's menu (カット 60分 ¥4,400)."""

    __tablename__ = "booking_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    description: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    duration_minutes: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    price_yen: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)

    __table_args__ = (
        sa.CheckConstraint(
            f"duration_minutes > 0 AND duration_minutes % {SLOT_MINUTES} = 0", name="duration_in_units"
        ),
        sa.CheckConstraint("price_yen >= 0", name="price_not_negative"),
        sa.Index("ix_booking_services_shop_position", "shop_id", "position", "id"),
    )

    @property
    def units(self):
        return self.duration_minutes // SLOT_MINUTES

    def __repr__(self):
        return f"<Service {self.id} {self.name!r} {self.duration_minutes}min>"


class BusinessHours(ShopOwnedMixin, db.Model):
    """Opening hours of one weekday (0 = Monday), as local times; a closed weekday has no row."""

    __tablename__ = "booking_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    opens_at: Mapped[time] = mapped_column(sa.Time, nullable=False)
    closes_at: Mapped[time] = mapped_column(sa.Time, nullable=False)

    __table_args__ = (
        sa.UniqueConstraint("shop_id", "weekday", name="uq_booking_hours_shop_weekday"),
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        sa.CheckConstraint("opens_at < closes_at", name="opens_before_closing"),
    )


class Closure(ShopOwnedMixin, db.Model):
    """A day the shop is closed although its weekday is open (臨時休業)."""

    __tablename__ = "booking_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, nullable=False)
    note: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")

    __table_args__ = (sa.UniqueConstraint("shop_id", "day", name="uq_booking_closures_shop_day"),)


class BookingStatus(enum.StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class BookingSource(enum.StrEnum):
    WEB = "web"  # the booking page, without LINE
    LINE = "line"  # the booking page, signed in with LINE Login


class Booking(ShopOwnedMixin, TimestampMixin, db.Model):
    """A customer's booking of one service at one time; the name and phone are kept as typed."""

    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SET NULL: deleting a customer keeps the booking (and its time) with the name as typed.
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id", ondelete="SET NULL"))
    service_id: Mapped[int] = mapped_column(sa.ForeignKey("booking_services.id"), nullable=False)
    # What was booked, as it was then: the menu may change later.
    service_name: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    price_yen: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    status: Mapped[BookingStatus] = mapped_column(str_enum(BookingStatus), nullable=False, default=BookingStatus.BOOKED)
    source: Mapped[BookingSource] = mapped_column(str_enum(BookingSource), nullable=False, default=BookingSource.WEB)
    friend_id: Mapped[int | None] = mapped_column(sa.ForeignKey("line_friends.id", ondelete="SET NULL"))
    family_name: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    given_name: Mapped[str] = mapped_column(sa.String(60), nullable=False, default="")
    family_name_kana: Mapped[str] = mapped_column(sa.String(60), nullable=False, default="")
    given_name_kana: Mapped[str] = mapped_column(sa.String(60), nullable=False, default="")
    phone: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    customer = relationship("Customer", lazy="raise")
    service = relationship("Service", lazy="raise")

    __table_args__ = (
        sa.CheckConstraint("starts_at < ends_at", name="starts_before_end"),
        sa.Index("ix_bookings_shop_starts", "shop_id", "starts_at"),
        sa.Index("ix_bookings_customer_starts", "customer_id", "starts_at"),
        # Segments (一斉配信): the shop's visits or upcoming bookings in a time range, read from the index alone.
        sa.Index("ix_bookings_shop_status_starts_customer", "shop_id", "status", "starts_at", "customer_id"),
    )

    @property
    def full_name(self):
        return f"{self.family_name} {self.given_name}".strip()

    @property
    def cancelled(self):
        return self.status == BookingStatus.CANCELLED

    def __repr__(self):
        return f"<Booking {self.id} {self.starts_at:%Y-%m-%d %H:%M}Z {self.status}>"


class BookingSlot(db.Model):
    """One 30-minute unit a booking holds.

    UNIQUE (shop_id, slot_start) is what makes double booking impossible: two
    overlapping bookings share a unit, so the second insert fails on any
    database, whatever the Python checks saw.  Cancelling deletes the units.
    """

    __tablename__ = "booking_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    booking_id: Mapped[int] = mapped_column(
        sa.ForeignKey("bookings.id", ondelete="CASCADE"), nullable=False, index=True
    )

    __table_args__ = (sa.UniqueConstraint("shop_id", "slot_start", name="uq_booking_slots_shop_slot"),)
