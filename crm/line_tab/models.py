"""The LINE tab's own records: drafts (下書き保存 and approval) and acknowledged send failures.

Friends, messages and read state are the conversations core's (crm/conversations/models.py).
"""
import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.database import TimestampMixin, UTCDateTime, str_enum, utcnow
from crm.extensions import db
from crm.line_platform.outgoing import ImageAttachmentMixin
from crm.shops.models import ShopOwnedMixin


class DraftStatus(enum.StrEnum):
    DRAFT = "draft"  # 下書き
    PENDING = "pending_approval"  # 承認待ち
    RETURNED = "returned"  # 差し戻し
    APPROVED = "approved"  # 承認済み: it became a message (sent or scheduled)


STATUS_LABELS = {
    DraftStatus.DRAFT: _l("下書き"),
    DraftStatus.PENDING: _l("承認待ち"),
    DraftStatus.RETURNED: _l("差し戻し"),
    DraftStatus.APPROVED: _l("承認済み"),
}

OPEN_STATUSES = (DraftStatus.DRAFT, DraftStatus.PENDING, DraftStatus.RETURNED)



class LineDraft(ShopOwnedMixin, TimestampMixin, ImageAttachmentMixin, db.Model):
    """A message being written to a LINE friend, saved on the server (text, and optionally an image sent first)."""

    __tablename__ = "line_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    friend_id: Mapped[int] = mapped_column(sa.ForeignKey("line_friends.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    status: Mapped[DraftStatus] = mapped_column(str_enum(DraftStatus, length=24), nullable=False, default=DraftStatus.DRAFT)
    # 1 while the draft is open, NULL once approved: one open draft per customer and author.
    open_slot: Mapped[int | None] = mapped_column(sa.Integer, default=1)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_comment: Mapped[str | None] = mapped_column(sa.Text)
    reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("line_messages.id", ondelete="SET NULL"))

    friend = relationship("LineFriend", lazy="raise")
    author = relationship("Staff", foreign_keys=[author_id], lazy="raise")
    reviewer = relationship("Staff", foreign_keys=[reviewer_id], lazy="raise")
    updated_by = relationship("Staff", foreign_keys=[updated_by_id], lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("friend_id", "author_id", "open_slot", name="uq_line_drafts_open_per_author"),
        sa.Index("ix_line_drafts_shop_status", "shop_id", "status", "requested_at"),
    )

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    @property
    def status_label(self):
        return STATUS_LABELS[self.status]

    def __repr__(self):
        return f"<LineDraft {self.id} friend={self.friend_id} author={self.author_id} v{self.version} {self.status}>"


class LineFailureAck(ShopOwnedMixin, db.Model):
    """The owner saw that an outgoing message could not be sent (it leaves the list of failures)."""

    __tablename__ = "line_failure_acks"

    message_id: Mapped[int] = mapped_column(sa.ForeignKey("line_messages.id", ondelete="CASCADE"), primary_key=True)
    acked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    acked_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    acked_by = relationship("Staff", lazy="raise")
