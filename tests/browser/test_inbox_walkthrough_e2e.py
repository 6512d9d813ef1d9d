"""Issue 17's walk-through at 375 px, without a reload: a new friend writes, the owner answers from the
live inbox, links the friend to a customer; a staff member sets it aside with a time; it comes back."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from crm.conversations.models import LineFriend
from crm.database import utcnow
from crm.extensions import db
from crm.line_tab import scheduling
from crm.shops.models import Shop
from crm.staff.models import LineSendMode
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, sign_in

pytestmark = pytest.mark.browser
LIVE_MS = 8_000
INQUIRY = "来週の土曜にカットの予約をしたいです"


def test_owners_day_at_375px(browser, line_app, line_sandbox):
    user = line_sandbox.add_user(display_name="みさきさん（新規のお客様・とても長い名前）")

    def seed():
        shop = db.session.get(Shop, line_app.shop_id)
        customer = factories.make_customer(shop, family_name="鈴木", given_name="恵子", phone="070-4910-6498")
        staff = factories.make_staff(shop, line_send_mode=LineSendMode.APPROVAL)
        return customer.id, staff.email

    customer_id, staff_email = line_app.run(seed)
    phone_context = browser.new_context(viewport={"width": 375, "height": 800}, locale="ja-JP")
    owner_context = browser.new_context(base_url=line_app.url, viewport={"width": 375, "height": 800},
                                        locale="ja-JP", timezone_id="Asia/Tokyo")
    staff_context = browser.new_context(base_url=line_app.url, viewport={"width": 1024, "height": 800},
                                        locale="ja-JP", timezone_id="Asia/Tokyo")
    for context in (phone_context, owner_context, staff_context):
        context.set_default_timeout(TIMEOUT_MS)
    try:
        owner = owner_context.new_page()
        sign_in(owner, line_app.owner_email)
        owner.goto("/line/inbox")
        expect(owner.locator(".inbox .empty")).to_be_visible()

        # A new friend writes: the open inbox shows it within the poll interval, no reload.
        phone = phone_context.new_page()
        phone.goto(f"{line_sandbox.url}/phone/{line_app.channel_id}/{user['user_id']}")
        phone.get_by_role("button", name="友だち追加").click()
        phone.get_by_label("メッセージ").fill(INQUIRY)
        phone.get_by_label("メッセージ").press("Enter")
        row = owner.locator(".inbox .list-item", has_text=INQUIRY)
        expect(row).to_be_visible(timeout=LIVE_MS)
        badge = row.locator(".unread-badge")
        box = badge.bounding_box()
        assert box["width"] <= box["height"] * 1.6, box  # a round badge, not a stretched bar
        name = row.locator(".customer-name").bounding_box()
        assert name["height"] < 30, name  # one line, not one character per line

        # The owner answers from the inbox: the unlinked friend has the whole conversation.
        row.locator("a").click()
        expect(owner.locator(".msg-in .msg-text", has_text=INQUIRY)).to_be_visible()
        composer = owner.get_by_label("メッセージ", exact=True)
        composer.fill("ご連絡ありがとうございます。土曜10時はいかがですか？")
        composer.press("Enter")
        expect(owner.locator(".msg-out .msg-text", has_text="土曜10時")).to_be_visible(timeout=LIVE_MS)
        expect(phone.locator(".bubble", has_text="土曜10時")).to_be_visible(timeout=LIVE_MS)

        # Linking is an action inside the conversation.
        owner.get_by_text("顧客と連携", exact=True).click()
        owner.get_by_label("顧客を検索").fill("4910")
        owner.get_by_label("顧客を検索").press("Enter")
        owner.get_by_role("button", name="この顧客と連携").click()
        expect(owner).to_have_url(f"{line_app.url}/customers/{customer_id}", timeout=LIVE_MS)

        # A staff member (approval mode) sees it, Enter requests approval; then sets it aside with a time.
        staff = staff_context.new_page()
        sign_in(staff, staff_email)
        staff.goto(f"/customers/{customer_id}/line")
        expect(staff.locator("[data-hint]")).to_have_text("Enterで承認を依頼・Shift+Enterで改行")
        text = staff.get_by_label("メッセージ", exact=True)
        text.fill("1行目")
        text.press("Shift+Enter")
        text.type("2行目")
        text.press("Enter")
        expect(staff.locator(".drafts-panel")).to_contain_text("承認待ち", timeout=LIVE_MS)
        phone.get_by_label("メッセージ").fill("よろしくお願いします")
        phone.get_by_label("メッセージ").press("Enter")
        expect(staff.locator(".msg-in .msg-text", has_text="よろしくお願いします")).to_be_visible(timeout=LIVE_MS)
        staff.get_by_text("後で通知", exact=True).click()
        later = (utcnow() + timedelta(hours=3)).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
        staff.locator("input[name=remind_at]").fill(later.strftime("%Y-%m-%dT%H:%M"))
        staff.get_by_role("button", name="設定する").click()
        expect(staff.locator("#line-notice")).to_contain_text("後で通知します")
        bar = owner.locator(".yellow-bar")
        owner.goto("/customers/")
        expect(bar).to_have_count(0)  # set aside until its time

        # The time comes (the tick): back in the yellow bar, on the page already open.
        def due():
            friend = db.session.scalars(sa.select(LineFriend).where(LineFriend.customer_id == customer_id)).one()
            friend.remind_at = utcnow() - timedelta(seconds=1)
            db.session.flush()
            return scheduling.tick()["reminded"]

        assert line_app.run(due) == 1
        expect(bar).to_contain_text("未読のLINEメッセージ", timeout=LIVE_MS)
        expect(staff.locator(".msg-in .msg-text", has_text="よろしくお願いします")).to_be_visible()
    finally:
        for context in (phone_context, owner_context, staff_context):
            context.close()
