"""End to end: a LINE friend writes from the sandbox phone, the owner reads and answers in the app."""
import pytest
from playwright.sync_api import expect

from crm.extensions import db
from crm.shops.models import Shop
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, sign_in


@pytest.fixture
def chat(line_app, line_sandbox):
    """A customer linked to a sandbox LINE user of the shared salon."""
    user = line_sandbox.add_user(display_name="はなこ🌸")

    def seed():
        shop = db.session.get(Shop, line_app.shop_id)
        customer = factories.make_customer(shop, family_name="山田", given_name="花子", phone="090-5555-0000")
        factories.make_friend(shop, customer, display_name="はなこ🌸", line_user_id=user["user_id"])
        return customer.id

    return dict(url=line_app.url, owner=line_app.owner_email, customer_id=line_app.run(seed),
                channel_id=line_app.channel_id, user_id=user["user_id"])


@pytest.mark.browser
def test_friend_writes_from_the_phone_and_the_owner_answers(browser, chat, line_sandbox):
    phone_context = browser.new_context(viewport={"width": 375, "height": 800}, locale="ja-JP")
    app_context = browser.new_context(base_url=chat["url"], locale="ja-JP", timezone_id="Asia/Tokyo")
    for context in (phone_context, app_context):
        context.set_default_timeout(TIMEOUT_MS)
    try:
        phone = phone_context.new_page()
        phone.goto(f"{line_sandbox.url}/phone/{chat['channel_id']}/{chat['user_id']}")
        phone.get_by_role("button", name="友だち追加").click()
        phone.get_by_label("メッセージ").fill("こんにちは")
        phone.get_by_label("メッセージ").press("Enter")
        expect(phone.locator(".row--user .bubble", has_text="こんにちは")).to_be_visible()
        expect(phone.locator(".meta", has_text="webhook 200").last).to_be_visible()

        owner = app_context.new_page()
        sign_in(owner, chat["owner"])
        owner.goto(f"/customers/{chat['customer_id']}/line")
        # The event is processed after the webhook answered; the tab shows it on the next load.
        for _ in range(20):
            if owner.locator(".msg-in .msg-text", has_text="こんにちは").count():
                break
            owner.wait_for_timeout(250)
            owner.reload()
        expect(owner.locator(".msg-in .msg-text", has_text="こんにちは")).to_be_visible()

        owner.get_by_label("メッセージ").fill("ご連絡ありがとうございます。\n明日10時でお待ちしております。")
        owner.get_by_role("button", name="送信").click()
        expect(owner.locator(".msg-out .msg-text", has_text="明日10時")).to_be_visible()
        expect(phone.locator(".row--bot .bubble", has_text="明日10時でお待ちしております。")).to_be_visible()
        for _ in range(20):
            if owner.locator(".msg-out .status-sent").count():
                break
            owner.wait_for_timeout(250)
            owner.reload()
        expect(owner.locator(".msg-out .status-sent")).to_have_text("送信済み")
        sent = line_sandbox.sent(chat["channel_id"])
        assert [s["via"] for s in sent] == ["reply"]  # the friend's message left a fresh reply token
    finally:
        phone_context.close()
        app_context.close()
