"""End to end: the yellow bar and the LINE tab update live as a friend writes from the sandbox phone."""
import pytest
from playwright.sync_api import expect

from crm.extensions import db
from crm.shops.models import Shop
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, sign_in

pytestmark = pytest.mark.browser
LIVE_MS = 6_000  # polling runs every 2–3 s; "within seconds"


def test_yellow_bar_and_live_conversation(browser, line_app, line_sandbox):
    user = line_sandbox.add_user(display_name="はなこ🌸")

    def seed():
        shop = db.session.get(Shop, line_app.shop_id)
        customer = factories.make_customer(shop, family_name="山田", given_name="花子", phone="090-5555-0000")
        factories.make_friend(shop, customer, display_name="はなこ🌸", line_user_id=user["user_id"])
        return customer.id

    customer_id = line_app.run(seed)
    phone_context = browser.new_context(viewport={"width": 375, "height": 800}, locale="ja-JP")
    staff_context = browser.new_context(base_url=line_app.url, locale="ja-JP", timezone_id="Asia/Tokyo")
    for context in (phone_context, staff_context):
        context.set_default_timeout(TIMEOUT_MS)
    try:
        staff = staff_context.new_page()
        sign_in(staff, line_app.owner_email)
        bar = staff.locator(".yellow-bar")
        expect(bar).to_have_count(0)

        phone = phone_context.new_page()
        phone.goto(f"{line_sandbox.url}/phone/{line_app.channel_id}/{user['user_id']}")
        phone.get_by_role("button", name="友だち追加").click()
        phone.get_by_label("メッセージ").fill("こんにちは")
        phone.get_by_label("メッセージ").press("Enter")

        # The bar appears on the page already open, without a reload.
        expect(bar).to_contain_text("未読のLINEメッセージが1件あります", timeout=LIVE_MS)
        bar.click()
        staff.get_by_role("link", name="山田 花子").click()
        expect(staff.locator(".msg-in .msg-text", has_text="こんにちは")).to_be_visible()
        expect(bar).to_have_count(0)  # opening the tab read it

        # Typing is not disturbed when a new message arrives.
        composer = staff.get_by_label("メッセージ")
        composer.fill("ただいま確認して")
        phone.get_by_label("メッセージ").fill("明日空いてますか？")
        phone.get_by_label("メッセージ").press("Enter")
        expect(staff.locator(".msg-in .msg-text", has_text="明日空いてますか？")).to_be_visible(timeout=LIVE_MS)
        expect(composer).to_have_value("ただいま確認して")
        expect(staff.locator("[data-counter]")).to_have_text("8 / 5000")

        # 後で通知 puts it back in the bar.
        staff.get_by_text("後で通知", exact=True).first.click()
        staff.get_by_role("button", name="設定する").click()
        expect(bar).to_contain_text("未読のLINEメッセージ", timeout=LIVE_MS)

        # Shift+Enter is a new line, Enter sends; the reply clears the bar.
        composer.press("Shift+Enter")
        composer.type("おります")
        composer.press("Enter")
        expect(staff.locator(".msg-out .msg-text")).to_have_text("ただいま確認して\nおります", timeout=LIVE_MS)
        expect(phone.locator(".row--bot .bubble", has_text="おります")).to_be_visible(timeout=LIVE_MS)
        expect(bar).to_have_count(0, timeout=LIVE_MS)
        assert staff.url.endswith(f"/customers/{customer_id}/line")
    finally:
        phone_context.close()
        staff_context.close()
