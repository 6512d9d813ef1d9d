"""The booking texts customers read (LINE confirmations, the 予約を確認する answer) and the page link."""
from flask_babel import gettext as _

from crm.bookings.formatting import day_label, duration_label, time_label, yen
from crm.bookings.lists import upcoming_for_customer
from crm.extensions import db
from crm.shops.models import Shop
from crm.urls import external_url


def booking_page_url(shop):
    """The absolute URL of the shop's booking page (on PUBLIC_BASE_URL when set)."""
    return external_url("bookings.page", key=shop.booking_key)


def when_label(booking, tz):
    """「2026年11月24日(火) 10:00〜11:00」."""
    return "%s %s〜%s" % (
        day_label(booking.starts_at, tz, with_year=True), time_label(booking.starts_at, tz),
        time_label(booking.ends_at, tz),
    )


def confirmation_text(booking, shop):
    """The LINE message confirming a booking."""
    minutes = int((booking.ends_at - booking.starts_at).total_seconds() // 60)
    return "\n".join([
        _("ご予約ありがとうございます。以下の内容で承りました。"),
        "",
        _("【店舗】%(name)s", name=shop.name),
        _("【日時】%(when)s", when=when_label(booking, shop.timezone)),
        _("【メニュー】%(service)s（%(duration)s）", service=booking.service_name, duration=duration_label(minutes)),
        _("【料金】%(price)s", price=yen(booking.price_yen)),
        "",
        _("ご来店をお待ちしております。変更・キャンセルはお店までご連絡ください。"),
    ])


def upcoming_message(customer, now=None):
    """The reply to 「予約を確認する」: the customer's upcoming bookings, or how to book."""
    shop = db.session.get(Shop, customer.shop_id)
    upcoming = upcoming_for_customer(customer, now)
    if not upcoming:
        return "\n".join([_("現在ご予約はありません。"), _("ご予約はこちらから: %(url)s", url=booking_page_url(shop))])
    lines = [_("%(name)s 様のご予約（%(count)d件）", name=customer.full_name, count=len(upcoming))]
    for booking in upcoming:
        lines.append("")
        lines.append("・" + when_label(booking, shop.timezone))
        lines.append(f"　{booking.service_name} {yen(booking.price_yen)}")
    lines.append("")
    lines.append(_("変更・キャンセルはお店までご連絡ください。"))
    return "\n".join(lines)
