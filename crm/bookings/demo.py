"""Demo data for the booking page: a menu, business hours and a few bookings of demo customers."""
import random
from datetime import time

import sqlalchemy as sa

from crm.bookings import catalog, services, slots
from crm.bookings.models import Service
from crm.customers.models import Customer
from crm.customers.normalize import InvalidPhone
from crm.extensions import db
from crm.line_platform.services import channel_for_shop

DEMO_MENU = (
    ("カット", 60, 4400, "シャンプー・ブロー込み"),
    ("カット＋カラー", 120, 9900, "白髪染めもこちら"),
    ("ヘッドスパ", 30, 3300, "炭酸泉でリフレッシュ"),
)
DEMO_HOURS = (time(10), time(19))  # Tuesday to Sunday; closed on Mondays
DEMO_LOGIN_CHANNEL = {"channel_id": "1600000001", "channel_secret": "fedcba9876543210fedcba9876543210"}


def seed_booking_demo(shop, bookings=6, sandbox_url=None, bot_channel_id=None):
    """Give a shop the demo menu and hours (once), and a few upcoming bookings of its customers.

    With `sandbox_url`, also register a LINE Login channel in the LINE sandbox (linked to
    the Official Account `bot_channel_id`) and store it as the shop's login channel, so
    「LINE連携する」 works on the demo booking page.  Flushes; the caller commits.
    """
    existing = db.session.scalar(sa.select(sa.func.count()).select_from(Service).where(Service.shop_id == shop.id))
    if not existing:
        for name, minutes, price, description in DEMO_MENU:
            catalog.add_service(shop.id, name, minutes, price, description=description)
        for weekday in range(1, 7):
            catalog.set_hours(shop.id, weekday, *DEMO_HOURS)
        _demo_bookings(shop, bookings)
    if sandbox_url:
        _connect_login_channel(shop, sandbox_url, bot_channel_id)
    db.session.flush()
    return {"booking_key": shop.booking_key, "services": len(DEMO_MENU)}


def _demo_bookings(shop, count):
    rng = random.Random(20260124)
    customers = db.session.scalars(
        sa.select(Customer).where(Customer.shop_id == shop.id, Customer.phone.is_not(None)).order_by(Customer.id).limit(20)
    ).all()
    menu = catalog.menu(shop.id)
    if not customers or not menu:
        return
    for customer in rng.sample(customers, min(count, len(customers))):
        service = rng.choice(menu)
        days = [d for d in slots.calendar(shop, service, lead=catalog.lead_time()) if d.available]
        if not days:
            return
        start = rng.choice(rng.choice(days[:7]).slots)
        visitor = services.Visitor(customer.family_name, customer.given_name, customer.family_name_kana,
                                   customer.given_name_kana, customer.phone)
        try:
            with db.session.begin_nested():
                services.book(shop, service, start, visitor)
        except (services.SlotUnavailable, InvalidPhone):
            continue


def _connect_login_channel(shop, sandbox_url, bot_channel_id):
    import json
    import urllib.request


    body = dict(DEMO_LOGIN_CHANNEL)
    if bot_channel_id:
        body["bot_channel_id"] = bot_channel_id
    request = urllib.request.Request(
        sandbox_url.rstrip("/") + "/_sandbox/login-channels", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
    channel = channel_for_shop(shop.id)
    channel.login_channel_id = DEMO_LOGIN_CHANNEL["channel_id"]
    channel.login_channel_secret = DEMO_LOGIN_CHANNEL["channel_secret"]
