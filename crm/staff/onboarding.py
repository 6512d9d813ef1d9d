"""Opening a shop: the shop (tenant) and its first owner account."""
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm.extensions import db
from crm.shops.models import Plan, Shop
from crm.staff.models import LineSendMode, Role
from crm.staff.services import create_staff


def create_shop(*, name, owner_email, owner_password, owner_name=None, plan=Plan.BASIC, timezone="Asia/Tokyo"):
    """A new shop and its first owner. Flushes; the caller commits."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone: {timezone}") from exc
    shop = Shop(name=name.strip(), plan=Plan(plan), timezone=timezone)
    db.session.add(shop)
    db.session.flush()
    owner = create_staff(
        shop,
        name=owner_name or "オーナー",
        email=owner_email,
        password=owner_password,
        role=Role.OWNER,
        line_send_mode=LineSendMode.DIRECT,
    )
    return shop, owner
