"""Staff accounts: the shop's owner and employees who sign in."""
import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.database import TimestampMixin, UTCDateTime, str_enum
from crm.extensions import db
from crm.shops.models import ShopOwnedMixin


class Role(enum.StrEnum):
    OWNER = "owner"
    STAFF = "staff"


class LineSendMode(enum.StrEnum):
    DIRECT = "direct"  # may send LINE messages directly
    APPROVAL = "approval"  # drafts need the owner's approval



class Staff(UserMixin, ShopOwnedMixin, TimestampMixin, db.Model):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Sign-in is by email alone, so an address identifies one account everywhere.
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    role: Mapped[Role] = mapped_column(str_enum(Role), nullable=False, default=Role.STAFF)
    line_send_mode: Mapped[LineSendMode] = mapped_column(
        str_enum(LineSendMode), nullable=False, default=LineSendMode.APPROVAL
    )
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    # The LINE composer's send key: "enter" (Shift+Enter for a new line) or "alt_enter".
    send_key: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="enter", server_default="enter")
    # 自分の担当のみ: the yellow bar and the digests count only conversations assigned to this staff member.
    line_only_mine: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False, server_default=sa.false())
    # Bumped on sign-out, password reset and deactivation; it is part of the session id
    # (and so of the remember cookie), and the loader checks it on every request,
    # so every existing session of the account ends, on every device.
    session_version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    shop = relationship("Shop", back_populates="staff", lazy="joined", innerjoin=True)

    @property
    def is_owner(self):
        return self.role == Role.OWNER

    @property
    def is_active(self):
        return self.active

    @property
    def may_send_line_directly(self):
        """Owners always may; staff only with the direct-send setting."""
        return self.is_owner or self.line_send_mode == LineSendMode.DIRECT

    def get_id(self):
        return f"{self.id}:{self.session_version}"

    def __repr__(self):
        return f"<Staff {self.id} {self.email!r} {self.role}>"
