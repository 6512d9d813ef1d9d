"""What the customer will see: each setting's LINE messages for a sample friend, and テスト送信.

A preview fills the placeholders for a sample friend; テスト送信 fills them for
the friend it goes to (their {LINE名}, their own linking card), so what
arrives on the phone is what that friend would get, with links that work.
"""
from dataclasses import dataclass

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
    friend_values,
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
from crm.linking.receivers import link_form_url


def sample_values(shop) -> dict[str, str]:
    """The placeholders as a preview shows them."""
    return {LINE_NAME: _("山田 花子"), SHOP_NAME: shop.name, CUSTOMER_NAME: _("山田 花子"),
            WHEN: _("2026年11月24日(火) 10:00〜11:00"), MENU: _("カット"), PAGE: booking_page_url(shop)}


def preview_link_card():
    return link_card("https://example.invalid/link")


@dataclass(frozen=True)
class Audience:
    """Who the messages are filled for: the placeholders' values, and the linking card (None once linked)."""

    values: dict[str, str]
    card: dict | None


def sample_audience(shop) -> Audience:
    """The sample friend of the previews."""
    return Audience(sample_values(shop), preview_link_card())


def friend_audience(shop, friend: LineFriend) -> Audience:
    """A real friend (テスト送信): their {LINE名}, and their own linking form while not linked."""
    card = link_card(link_form_url(friend)) if friend.customer_id is None else None
    return Audience({**sample_values(shop), **friend_values(friend, shop)}, card)


def greeting_preview(shop, bubbles, refollow_text, refollow=False, audience: Audience | None = None) -> list[dict]:
    audience = audience or sample_audience(shop)
    return greeting_messages(bubbles, refollow_text, audience.values, link_card=audience.card, refollow=refollow)


def text_preview(shop, text, audience: Audience | None = None) -> list[dict]:
    audience = audience or sample_audience(shop)
    return [text_message(fill(text, audience.values))] if (text or "").strip() else []


def rule_preview(shop, rule: CompiledRule, audience: Audience | None = None) -> list[dict]:
    """A rule's answer as a linked sample customer would see it (「予約確認」: described)."""
    audience = audience or sample_audience(shop)
    if rule.reply_kind == ReplyKind.IMAGE:
        return [image_message(rule.image_url)]
    if rule.reply_kind == ReplyKind.BOOKINGS:
        described = [text_message(_("山田 花子 様のご予約（1件）\n\n・2026年11月24日(火) 10:00〜11:00\n　カット ¥4,400"))]
        return described + ([audience.card] if audience.card is not None else [])
    return text_preview(shop, rule.reply_text, audience)


def test_send_allowed() -> bool:
    """テスト送信 exists outside production only: it sends to the sandbox phone's friends."""
    return current_app.config.get("ENV_NAME") != "production"


def test_friends(shop_id: int) -> list[LineFriend]:
    """The shop's followed friends, for テスト送信."""
    return list(db.session.scalars(
        sa.select(LineFriend).where(LineFriend.shop_id == shop_id, LineFriend.followed.is_(True))
        .order_by(LineFriend.display_name, LineFriend.id).limit(200)
    ))


def test_friend(shop_id: int, friend_id: int) -> LineFriend:
    """The friend a テスト送信 goes to: one of the shop's followed friends."""
    friend = db.session.scalars(sa.select(LineFriend).where(
        LineFriend.id == friend_id, LineFriend.shop_id == shop_id, LineFriend.followed.is_(True))).first()
    if friend is None:
        raise AutoReplyError(_("送信先の友だちを選んでください。"), field="friend_id")
    return friend


def test_send(friend: LineFriend, messages: list[dict], label: str):
    """Push `messages` to one of the shop's friends (the sandbox phone), marked as a test of `label`."""
    if not test_send_allowed():
        raise AutoReplyError(_("テスト送信は開発環境でのみ使えます。"))
    if not messages:
        raise AutoReplyError(_("送信する内容がありません。"))
    return queue_messages(friend, messages, origin=Origin.AUTO.value,
                          origin_label=_("テスト送信: %(label)s", label=label))
