"""What the customer will see: each setting's LINE messages for a sample friend, and テスト送信."""
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from crm.autoreply.matching import CompiledRule
from crm.autoreply.messages import (
    CUSTOMER_NAME,
    LINE_NAME,
    MENU,
    PAGE,
    SHOP_NAME,
    WHEN,
    AutoReplyError,
    fill,
    greeting_messages,
    image_message,
    text_message,
)
from crm.autoreply.models import ReplyKind
from crm.bookings.texts import booking_page_url
from crm.conversations.models import LineFriend, Origin
from crm.extensions import db
from crm.line_platform.sending import queue_messages
from crm.linking.notify import link_card


def sample_values(shop) -> dict[str, str]:
    """The placeholders as a preview shows them."""
    return {LINE_NAME: _("山田 花子"), SHOP_NAME: shop.name, CUSTOMER_NAME: _("山田 花子"),
            WHEN: _("2026年11月24日(火) 10:00〜11:00"), MENU: _("カット"), PAGE: booking_page_url(shop)}


def preview_link_card():
    return link_card("https://example.invalid/link")


def greeting_preview(shop, bubbles, refollow_text, refollow=False) -> list[dict]:
    return greeting_messages(bubbles, refollow_text, sample_values(shop), link_card=preview_link_card(),
                             refollow=refollow)


def text_preview(shop, text) -> list[dict]:
    return [text_message(fill(text, sample_values(shop)))] if (text or "").strip() else []


def rule_preview(shop, rule: CompiledRule) -> list[dict]:
    """A rule's answer as a linked sample customer would see it (「予約確認」: described)."""
    if rule.reply_kind == ReplyKind.IMAGE:
        return [image_message(rule.image_url)]
    if rule.reply_kind == ReplyKind.BOOKINGS:
        return [text_message(_("山田 花子 様のご予約（1件）\n\n・2026年11月24日(火) 10:00〜11:00\n　カット ¥4,400")),
                preview_link_card()]
    return text_preview(shop, rule.reply_text)


def test_send_allowed() -> bool:
    """テスト送信 exists outside production only: it sends to the sandbox phone's friends."""
    return current_app.config.get("ENV_NAME") != "production"


def test_friends(shop_id: int) -> list[LineFriend]:
    """The shop's followed friends, for テスト送信."""
    return list(db.session.scalars(
        sa.select(LineFriend).where(LineFriend.shop_id == shop_id, LineFriend.followed.is_(True))
        .order_by(LineFriend.display_name, LineFriend.id).limit(200)
    ))


def test_send(shop_id: int, friend_id: int, messages: list[dict], label: str):
    """Push `messages` to one of the shop's friends (the sandbox phone), marked as a test of `label`."""
    if not test_send_allowed():
        raise AutoReplyError(_("テスト送信は開発環境でのみ使えます。"))
    friend = db.session.scalars(
        sa.select(LineFriend).where(LineFriend.id == friend_id, LineFriend.shop_id == shop_id)).first()
    if friend is None:
        raise AutoReplyError(_("送信先の友だちを選んでください。"), field="friend_id")
    if not messages:
        raise AutoReplyError(_("送信する内容がありません。"))
    return queue_messages(friend, messages, origin=Origin.AUTO.value,
                          origin_label=_("テスト送信: %(label)s", label=label))
