"""Link requests the owner resolves, and the single-use link tokens already spent."""
import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.database import TimestampMixin, UTCDateTime, str_enum, utcnow
from crm.extensions import db
from crm.shops.models import ShopOwnedMixin


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    RESOLVED = "resolved"


class RequestReason(enum.StrEnum):
    NAME_MISMATCH = "name_mismatch"  # the phone matches a customer whose name differs
    SEVERAL = "several"  # more than one customer matches
    CONFLICT = "conflict"  # the matching customer is linked to another LINE friend
    # Name and phone agree (or match no one), but only the rich-menu form says so:
    # anyone who knows them could have typed them, so the owner confirms.
    UNCONFIRMED = "unconfirmed"



class LinkRequest(ShopOwnedMixin, TimestampMixin, db.Model):
    """A customer asked to link their LINE, and the app would not guess which record is theirs."""

    __tablename__ = "link_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    friend_id: Mapped[int] = mapped_column(sa.ForeignKey("line_friends.id", ondelete="CASCADE"), nullable=False)
    family_name: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    given_name: Mapped[str] = mapped_column(sa.String(60), nullable=False, default="")
    kana: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    phone: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    phone_e164: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    source: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # richmenu or booking
    reason: Mapped[RequestReason] = mapped_column(str_enum(RequestReason), nullable=False)
    candidate_ids: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    # Records a booking made while this request waited (booked as the page without LINE
    # would): resolving the request moves what they hold and removes them if left empty.
    made_customer_ids: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list, server_default="[]")
    status: Mapped[RequestStatus] = mapped_column(str_enum(RequestStatus), nullable=False, default=RequestStatus.PENDING)
    resolved_customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id", ondelete="SET NULL"))
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    friend = relationship("LineFriend", lazy="raise")

    __table_args__ = (sa.Index("ix_link_requests_shop_status", "shop_id", "status"),)


class SpentLinkToken(db.Model):
    """A link token's id, stored when used: the unique key makes every token single-use."""

    __tablename__ = "spent_link_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    spent_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
