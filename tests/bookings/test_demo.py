"""The demo menu and hours (crm.bookings.demo.seed_booking_demo)."""
from datetime import time

import requests
import sqlalchemy as sa

from crm.bookings import catalog
from crm.bookings.demo import DEMO_LOGIN_CHANNEL, seed_booking_demo
from crm.bookings.models import Booking, Service
from crm.line_platform.services import channel_for_shop
from tests.factories import make_customer


def test_the_demo_menu_hours_and_bookings(shop, db):
    salon = shop[0]
    for i in range(8):
        make_customer(salon, family_name=f"デモ{i}", phone=f"090-1234-56{i:02d}")
    result = seed_booking_demo(salon, bookings=4)
    assert result["booking_key"] == salon.booking_key
    menu = [(s.name, s.duration_minutes, s.price_yen) for s in catalog.menu(salon.id)]
    assert menu == [("カット", 60, 4400), ("カット＋カラー", 120, 9900), ("ヘッドスパ", 30, 3300)]
    hours = catalog.hours_by_weekday(salon.id)
    assert sorted(hours) == [1, 2, 3, 4, 5, 6]  # Tuesday to Sunday
    assert {(h.opens_at, h.closes_at) for h in hours.values()} == {(time(10), time(19))}
    bookings = db.session.scalars(sa.select(Booking)).all()
    assert 1 <= len(bookings) <= 4 and all(b.customer_id for b in bookings)

    seed_booking_demo(salon, bookings=4)  # a second run adds nothing
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Service)) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == len(bookings)


def test_the_demo_login_channel_in_the_line_sandbox(shop, db, line_sandbox):
    salon = shop[0]
    bot = line_sandbox.add_channel(bot_name="デモ")
    seed_booking_demo(salon, sandbox_url=line_sandbox.url, bot_channel_id=bot["channel_id"])
    channel = channel_for_shop(salon.id)
    assert channel.login_channel_id == DEMO_LOGIN_CHANNEL["channel_id"]
    assert channel.login_channel_secret == DEMO_LOGIN_CHANNEL["channel_secret"]
    page = requests.get(f"{line_sandbox.url}/oauth2/v2.1/authorize", timeout=10, params={
        "response_type": "code", "client_id": channel.login_channel_id, "redirect_uri": "http://127.0.0.1/cb",
        "state": "s", "scope": "openid profile", "nonce": "n", "bot_prompt": "normal"})
    assert page.status_code == 200 and "「デモ」を友だち追加" in page.text
