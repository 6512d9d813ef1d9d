"""What the customer receives: the LINE message objects of each automatic response, and their limits.

A text is checked with its placeholders at their longest, so a rule that
could exceed LINE's limits is refused when it is saved, not when it fires.
"""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.errors import UserError
from crm.line_platform.sending import MAX_MESSAGES_PER_REQUEST, MAX_TEXT_UTF16_UNITS, utf16_units

LINE_NAME = "{LINE名}"
SHOP_NAME = "{店舗名}"
CUSTOMER_NAME = "{お客様名}"
WHEN = "{日時}"
MENU = "{メニュー}"
PAGE = "{予約ページ}"
# The longest each can become: LINE display names are at most 20 characters; the columns' own sizes.
LONGEST = {LINE_NAME: 20, SHOP_NAME: 120, CUSTOMER_NAME: 121, WHEN: 40, MENU: 60, PAGE: 300}

DEFAULT_GREETING = _l("{LINE名}さん、友だち追加ありがとうございます！\n{店舗名}です。ご予約やご質問は、このトークからお気軽にどうぞ。")
DEFAULT_REFOLLOW = _l("{LINE名}さん、おかえりなさい！\n{店舗名}です。またのご利用をお待ちしております。")
DEFAULT_AWAY = _l("お問い合わせありがとうございます。ただいま営業時間外のため、営業時間内に順次ご返信いたします。")
DEFAULT_HOLIDAY = _l("お問い合わせありがとうございます。本日は休業日のため、次の営業日に順次ご返信いたします。")
DEFAULT_REMINDER = _l("{お客様名} 様\n明日のご予約のお知らせです。\n\n【日時】{日時}\n【メニュー】{メニュー}\n\n"
                      "{店舗名}でお待ちしております。\nご予約の変更・キャンセルはお店までご連絡ください。"
                      "予約ページ: {予約ページ}")


class AutoReplyError(UserError, ValueError):
    """A setting or rule that cannot be saved as written; the text (and field) say why."""


def fill(text: str, values: dict[str, str]) -> str:
    """Replace the placeholders that `values` names."""
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def check_text(text: str, field: str, required: bool = True) -> str:
    """Refuse an empty text (when required) or one that could exceed LINE's 5,000 UTF-16 units."""
    text = (text or "").replace("\r\n", "\n")
    if not text.strip():
        if required:
            raise AutoReplyError(_("メッセージを入力してください。"), field=field)
        return ""
    longest = fill(text, {key: "あ" * size for key, size in LONGEST.items()})
    units = utf16_units(longest)
    if units > MAX_TEXT_UTF16_UNITS:
        raise AutoReplyError(_("メッセージが長すぎます（差し込みを含めて最大 %(units)d / %(limit)d 文字）。",
                               units=units, limit=MAX_TEXT_UTF16_UNITS), field=field)
    return text


def check_image_url(url: str, field: str) -> str:
    """LINE shows images from HTTPS addresses only (up to 2,000 characters)."""
    url = (url or "").strip()
    if not url.startswith("https://") or len(url) > 1000 or " " in url:
        raise AutoReplyError(_("画像のURLは https:// で始まるアドレスを入力してください。"), field=field)
    return url


def check_bubbles(bubbles: list[dict]) -> list[dict]:
    """The greeting's bubbles: at most 5, each a text, an image or the linking card."""
    cleaned = []
    for number, bubble in enumerate(bubbles, start=1):
        kind = bubble.get("kind")
        if kind == "text":
            cleaned.append({"kind": "text", "text": check_text(bubble.get("text", ""), f"bubble_{number}_text")})
        elif kind == "image":
            cleaned.append({"kind": "image", "url": check_image_url(bubble.get("url", ""), f"bubble_{number}_url")})
        elif kind == "link_card":
            cleaned.append({"kind": "link_card"})
    if len(cleaned) > MAX_MESSAGES_PER_REQUEST:
        raise AutoReplyError(_("吹き出しは%(n)d個までです。", n=MAX_MESSAGES_PER_REQUEST), field="bubble_1_kind")
    return cleaned


def text_message(text: str) -> dict:
    return {"type": "text", "text": text}


def image_message(url: str) -> dict:
    return {"type": "image", "originalContentUrl": url, "previewImageUrl": url}


def friend_values(friend, shop) -> dict[str, str]:
    """{LINE名} and {店舗名} for one friend."""
    return {LINE_NAME: friend.display_name or _("お客様"), SHOP_NAME: shop.name}


def greeting_messages(bubbles: list[dict], refollow_text: str, values: dict[str, str], link_card=None,
                      refollow: bool = False) -> list[dict]:
    """The greeting's LINE messages; a refollow with its own text has that text instead of the texts.

    ``link_card``: the linking card's message, or None (the friend is linked already: no card).
    """
    messages = []
    refollow_text = (refollow_text or "").strip()
    replaced = False
    for bubble in bubbles:
        if bubble["kind"] == "text":
            if refollow and refollow_text:
                if not replaced:
                    messages.append(text_message(fill(refollow_text, values)))
                    replaced = True
                continue
            messages.append(text_message(fill(bubble["text"], values)))
        elif bubble["kind"] == "image":
            messages.append(image_message(bubble["url"]))
        elif bubble["kind"] == "link_card" and link_card is not None:
            messages.append(link_card)
    if refollow and refollow_text and not replaced:
        messages.insert(0, text_message(fill(refollow_text, values)))
    return messages[:MAX_MESSAGES_PER_REQUEST]
