"""定型文 (saved replies): the shop's list of replies, each a title and a body with placeholders
filled from the ledger when a staff member picks it in the composer.

Placeholders: {お客様名} (the customer's name, or the LINE name of an unlinked friend),
{次回予約} (the customer's next booking), {店舗名} (the shop's name). One without a value
stays in the text as written; the composer shows it and sending refuses it, so a raw
{次回予約} never reaches a customer. Services flush; the request commits.
"""
import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Mapped, mapped_column

from crm.bookings.placeholders import (
    CUSTOMER_NAME,
    NEXT_BOOKING,
    SHOP_NAME,
    fill,
    next_booking_label,
    unfilled,
)
from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.database import TimestampMixin
from crm.errors import UserError
from crm.extensions import db
from crm.line_platform.sending import SendRefused
from crm.shops.models import Shop, ShopOwnedMixin

TITLE_MAX = 40
BODY_MAX = 5000


class SavedReply(ShopOwnedMixin, TimestampMixin, db.Model):
    """One 定型文 of the shop."""

    __tablename__ = "line_saved_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(TITLE_MAX), nullable=False)
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)

    __table_args__ = (sa.UniqueConstraint("shop_id", "title", name="uq_line_saved_replies_shop_title"),)


class SavedReplyError(UserError):
    """A 定型文 that cannot be saved as written; `field` says which input."""


class UnfilledPlaceholder(SendRefused):
    """A message that still contains a placeholder with no value (shown in the composer, the text kept)."""


def shop_replies(shop_id: int) -> list[SavedReply]:
    """The shop's 定型文 in title order."""
    return list(db.session.scalars(
        sa.select(SavedReply).where(SavedReply.shop_id == shop_id).order_by(SavedReply.title, SavedReply.id)
    ))


def _clean(shop_id: int, title: str, body: str, reply_id: int | None = None) -> tuple[str, str]:
    title, body = (title or "").strip(), (body or "").replace("\r\n", "\n").strip()
    if not title:
        raise SavedReplyError(_("タイトルを入力してください。"), field="title")
    if len(title) > TITLE_MAX:
        raise SavedReplyError(_("タイトルは%(n)d文字以内で入力してください。", n=TITLE_MAX), field="title")
    if not body:
        raise SavedReplyError(_("本文を入力してください。"), field="body")
    if len(body) > BODY_MAX:
        raise SavedReplyError(_("本文は%(n)d文字以内で入力してください。", n=BODY_MAX), field="body")
    taken = db.session.scalar(sa.select(SavedReply.id).where(
        SavedReply.shop_id == shop_id, SavedReply.title == title, SavedReply.id != (reply_id or 0)))
    if taken:
        raise SavedReplyError(_("同じタイトルの定型文があります。"), field="title")
    return title, body


def create_reply(shop_id: int, title: str, body: str) -> SavedReply:
    """A new 定型文."""
    title, body = _clean(shop_id, title, body)
    reply = SavedReply(shop_id=shop_id, title=title, body=body)
    db.session.add(reply)
    db.session.flush()
    return reply


def update_reply(reply: SavedReply, title: str, body: str) -> SavedReply:
    """Change a 定型文's title and body."""
    reply.title, reply.body = _clean(reply.shop_id, title, body, reply.id)
    db.session.flush()
    return reply


def delete_reply(reply: SavedReply) -> None:
    """Remove a 定型文."""
    db.session.delete(reply)
    db.session.flush()


def values_for(friend: LineFriend, shop: Shop) -> dict[str, str | None]:
    """Each placeholder's value for this conversation (None when the ledger has none)."""
    customer = db.session.get(Customer, friend.customer_id) if friend.customer_id else None
    name = customer.full_name if customer else (friend.display_name or None)
    return {CUSTOMER_NAME: name, NEXT_BOOKING: next_booking_label(customer, shop), SHOP_NAME: shop.name or None}


def picker_items(friend: LineFriend, shop: Shop) -> list[dict]:
    """What the composer's `/` picker offers: every 定型文, filled for this conversation."""
    values = values_for(friend, shop)
    items = []
    for reply in shop_replies(shop.id):
        text, missing = fill(reply.body, values)
        items.append({"id": reply.id, "title": reply.title, "text": text, "missing": missing})
    return items


class FriendBlocked(SendRefused):
    """The friend blocked the shop's account (ブロック中): LINE delivers nothing to them."""


def refuse_to_send(friend: LineFriend, text: str) -> None:
    """Refuse a message LINE would not deliver (ブロック中) or one with a placeholder nobody filled."""
    if friend.blocked:
        raise FriendBlocked(_("この友だちはアカウントをブロックしているため、メッセージを送信できません。"))
    left = unfilled(text)
    if left:
        raise UnfilledPlaceholder(
            _("%(names)s に入る情報がありません。書き換えてから送信してください。", names="、".join(left)), field="text"
        )
