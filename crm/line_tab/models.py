"""LINE friends of a shop's LINE Official Account, and their link to a customer."""
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

    customer = relationship("Customer", back_populates="line_friend", lazy="raise")

    __table_args__ = (sa.UniqueConstraint("shop_id", "line_user_id", name="uq_line_friends_shop_user"),)

    @property
    def blocked(self):
        return not self.followed

    def __repr__(self):
        return f"<LineFriend {self.id} {self.line_user_id} customer={self.customer_id}>"
