"""The shop, i.e. the tenant."""
import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.database import TimestampMixin, UTCDateTime
from crm.extensions import db


class Plan(enum.StrEnum):
    BASIC = "basic"
    PREMIUM = "premium"
    TRIAL = "trial"


class Shop(TimestampMixin, db.Model):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    timezone: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="Asia/Tokyo")
    plan: Mapped[str] = mapped_column(
        sa.Enum(Plan, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        default=Plan.BASIC,
    )
    plan_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    staff = relationship("Staff", back_populates="shop", lazy="raise")

    def __repr__(self):
        return f"<Shop {self.id} {self.name!r}>"


class ShopOwnedMixin:
    """Every shop-owned row carries shop_id; load such rows with get_for_shop_or_404."""

    @sa.orm.declared_attr
    def shop_id(cls) -> Mapped[int]:
        return mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False, index=True)
