"""Shared by the 自動応答 settings browser tests: the salon with a sandbox phone, its pages."""
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from crm.shops.models import Shop
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, sign_in

PHONE_NAME = "テスト端末"
LIVE_MS = 8_000  # a テスト送信 is pushed by a job after the request; the phone polls


@dataclass
class Salon:
    url: str
    owner_email: str
    staff_email: str
    channel_id: str
    user_id: str


@pytest.fixture
def salon(line_app, line_sandbox):
    """E2Eサロン with a staff member and a sandbox LINE user who is the shop's friend (the テスト送信 target)."""
    user = line_sandbox.add_user(display_name=PHONE_NAME)
    line_sandbox.set_friendship(line_app.channel_id, user["user_id"], "friend")

    def seed():
        shop = db.session.get(Shop, line_app.shop_id)
        factories.make_friend(shop, None, display_name=PHONE_NAME, line_user_id=user["user_id"])
        return factories.make_staff(shop).email

    return Salon(line_app.url, line_app.owner_email, line_app.run(seed), line_app.channel_id, user["user_id"])


@pytest.fixture
def owner_and_phone(browser, salon, line_sandbox):
    """(owner page signed in, the sandbox phone page of the friend)."""
    owner_context = browser.new_context(base_url=salon.url, viewport={"width": 1280, "height": 900},
                                        locale="ja-JP", timezone_id="Asia/Tokyo")
    phone_context = browser.new_context(viewport={"width": 375, "height": 800}, locale="ja-JP")
    for context in (owner_context, phone_context):
        context.set_default_timeout(TIMEOUT_MS)
    try:
        owner = owner_context.new_page()
        sign_in(owner, salon.owner_email)
        phone = phone_context.new_page()
        phone.goto(f"{line_sandbox.url}/phone/{salon.channel_id}/{salon.user_id}")
        yield owner, phone
    finally:
        owner_context.close()
        phone_context.close()


def open_setting(page, tab):
    """From anywhere: the user menu's 自動応答, then one of its tabs."""
    page.locator(".usermenu summary").click()
    page.locator(".usermenu").get_by_role("link", name="自動応答", exact=True).click()
    expect(page.get_by_role("heading", name="自動応答", exact=True)).to_be_visible()
    if tab == "概要":
        return
    page.get_by_role("navigation", name="自動応答").get_by_role("link", name=tab, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(tab)


def preview(page, section=None):
    """The 「お客様の画面」 preview (the n-th when a page has several)."""
    previews = page.get_by_label("お客様の画面")
    return previews.nth(section) if section is not None else previews


def field_error(page, field_id):
    """The error printed beside a field (its aria-describedby)."""
    return page.locator(f"#{field_id}-error")


def send_test(page, phone, section, expected_text):
    """Press the テスト送信 of `section` (a locator), see it confirmed, and see it arrive on the phone."""
    section.get_by_label("送信先（サンドボックスの友だち）").select_option(label=PHONE_NAME)
    section.get_by_role("button", name="テスト送信").click()
    expect(page.locator(".flash-success")).to_have_text("テスト送信しました。")
    expect(phone.locator(".row--bot .bubble", has_text=expected_text).last).to_be_visible(timeout=LIVE_MS)
