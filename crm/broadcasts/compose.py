"""What a broadcast says: an optional image, text with 定型文 placeholders, and an optional LINE coupon.

The image is the same for everyone (placeholders are in the text only); it is
kept as storage keys, and its signed URLs are made when a batch is sent.

Placeholders as 定型文 has them: {お客様名}, {店舗名}, {次回予約}.  {店舗名} is
the same for every recipient, so a broadcast using only that one still goes
out as multicasts; {お客様名} and {次回予約} differ per customer and make it pushes.

The coupon is LINE's own coupon message (``{"type": "coupon", "couponId": ...}``,
CouponMessage in messaging-api.yml and line-bot-sdk 3.27): the coupon is
created at LINE (createCoupon) when the broadcast is prepared.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.bookings.placeholders import CUSTOMER_NAME, NEXT_BOOKING, SHOP_NAME, fill, next_booking_labels
from crm.customers.models import Customer
from crm.errors import UserError
from crm.extensions import db
from crm.line_platform.outgoing import StoredImage, image_message
from crm.line_platform.sending import utf16_units
from crm.shops.models import Shop

PERSONAL = (CUSTOMER_NAME, NEXT_BOOKING)
MAX_TEXT = 5000
REWARDS = {"free": _l("無料"), "discount": _l("割引（円）"), "others": _l("その他")}


class ComposeError(UserError, ValueError):
    """The broadcast's content cannot be sent as written; the text says why."""


def is_personal(text: str) -> bool:
    """True when the text differs per recipient (so it is pushed, not multicast)."""
    return any(p in (text or "") for p in PERSONAL)


def check_text(text: str, coupon: dict | None, image: StoredImage | None = None) -> None:
    """Refuse an empty broadcast and text over LINE's limit (placeholders counted as written)."""
    if not (text or "").strip() and not coupon and image is None:
        raise ComposeError(_("メッセージを入力するか、画像かクーポンを付けてください。"), field="text")
    if utf16_units(text or "") > MAX_TEXT:
        raise ComposeError(_("メッセージが長すぎます（%(units)d / %(limit)d 文字）。",
                             units=utf16_units(text), limit=MAX_TEXT), field="text")


def clean_coupon(form: dict, tz_name: str) -> dict | None:
    """The coupon's fields from the form, checked; None when no coupon is attached."""
    if not form.get("coupon_on"):
        return None
    title = (form.get("coupon_title") or "").strip()
    if not 1 <= len(title) <= 60:
        raise ComposeError(_("クーポン名を1〜60文字で入力してください。"), field="coupon_title")
    description = (form.get("coupon_description") or "").strip()
    if len(description) > 1000:
        raise ComposeError(_("説明は1000文字以内で入力してください。"), field="coupon_description")
    reward = form.get("coupon_reward") or "free"
    if reward not in REWARDS:
        raise ComposeError(_("特典の種類を選んでください。"), field="coupon_reward")
    amount = None
    if reward == "discount":
        try:
            amount = int(str(form.get("coupon_amount") or "").strip())
        except ValueError:
            amount = 0
        if not 1 <= amount <= 1_000_000:
            raise ComposeError(_("割引額を1円以上で入力してください。"), field="coupon_amount")
    try:
        until = date.fromisoformat((form.get("coupon_until") or "").strip())
    except ValueError:
        raise ComposeError(_("有効期限を入力してください。"), field="coupon_until") from None
    if until < datetime.now(ZoneInfo(tz_name or "Asia/Tokyo")).date():
        raise ComposeError(_("有効期限には今日以降の日付を指定してください。"), field="coupon_until")
    return {"title": title, "description": description, "reward": reward, "amount": amount,
            "until": until.isoformat()}


def coupon_create_request(coupon: dict, tz_name: str, now: datetime) -> dict:
    """LINE's CouponCreateRequest for the coupon (valid from now until the end of its last day)."""
    zone = ZoneInfo(tz_name or "Asia/Tokyo")
    end = datetime.combine(date.fromisoformat(coupon["until"]) + timedelta(days=1), time(0), tzinfo=zone)
    body = {
        "title": coupon["title"], "description": coupon.get("description") or "",
        "startTimestamp": int(now.timestamp()), "endTimestamp": int(end.timestamp()),
        "maxUseCountPerTicket": 1, "visibility": "UNLISTED",
        # LINE names a handful of zones; the timestamps are absolute, so the zone only labels them.
        "timezone": "ASIA_TOKYO",
        "acquisitionCondition": {"type": "normal"},
        "reward": {"type": coupon["reward"]},
    }
    if coupon["reward"] == "discount":
        body["reward"]["priceInfo"] = {"type": "fixed", "fixedAmount": coupon["amount"]}
    return body


@dataclass(frozen=True)
class Person:
    """What the placeholders of one recipient need."""

    name: str
    next_booking: str


def render(text: str, shop_name: str, person: Person | None) -> str:
    """The text with its placeholders filled for one recipient (or the shop's only)."""
    values: dict[str, str | None] = {SHOP_NAME: shop_name}
    if person is not None:
        values |= {CUSTOMER_NAME: person.name, NEXT_BOOKING: person.next_booking}
    return fill(text or "", values)[0]


def messages_for(text: str, shop_name: str, person: Person | None, coupon_id: str | None,
                 image: StoredImage | None = None) -> list[dict]:
    """The LINE message objects one recipient gets (an image as storage keys: outgoing.to_line signs them)."""
    messages = [image_message(image)] if image is not None else []
    rendered = render(text, shop_name, person)
    if rendered.strip():
        messages.append({"type": "text", "text": rendered})
    if coupon_id:
        messages.append({"type": "coupon", "couponId": coupon_id})
    return messages


def people(customer_ids: list[int], shop: Shop, now: datetime) -> dict[int, Person]:
    """Name and next booking of each customer, in two queries."""
    names = {cid: f"{family} {given}".strip() for cid, family, given in db.session.execute(
        sa.select(Customer.id, Customer.family_name, Customer.given_name).where(Customer.id.in_(customer_ids)))}
    nexts = next_booking_labels(customer_ids, shop, now)
    none = _("ご予約はありません")
    return {cid: Person(name, nexts.get(cid, none)) for cid, name in names.items()}
