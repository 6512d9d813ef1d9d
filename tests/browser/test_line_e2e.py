"""End to end: a LINE friend writes from the sandbox phone, the owner reads and answers in the app."""
import threading

import pytest
from flask_migrate import upgrade
from playwright.sync_api import expect
from werkzeug.serving import make_server

from crm import create_app
from crm.config import TestingConfig
from crm.extensions import db
from crm.line_platform.services import channel_for_shop, save_channel
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, _QuietRequestHandler


@pytest.fixture
def line_app(tmp_path, line_sandbox):
    """The app served from a thread, connected to a sandbox channel whose webhook points at it."""
    server = None

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'line-e2e.sqlite3'}"
        LINE_API_BASE_URL = line_sandbox.url
        MEDIA_STORAGE_DIR = str(tmp_path / "media")
        JOBS_MODE = "thread"  # as in the embedded default: webhooks answer, jobs run after

    app = create_app(Config)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietRequestHandler)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = url
    with app.app_context():
        upgrade()
        shop, owner = factories.make_shop(name="E2Eサロン")
        channel = channel_for_shop(shop.id)
        sandbox_channel = line_sandbox.add_channel(bot_name="E2Eサロン")
        save_channel(channel, sandbox_channel["channel_id"], sandbox_channel["channel_secret"],
                     sandbox_channel["channel_access_token"])
        user = line_sandbox.add_user(display_name="はなこ🌸")
        customer = factories.make_customer(shop, family_name="山田", given_name="花子", phone="090-5555-0000")
        factories.make_friend(shop, customer, display_name="はなこ🌸", line_user_id=user["user_id"])
        db.session.commit()
        line_sandbox.add_channel(channel_id=sandbox_channel["channel_id"],
                                 channel_secret=sandbox_channel["channel_secret"],
                                 channel_access_token=sandbox_channel["channel_access_token"],
                                 bot_name="E2Eサロン", webhook_url=url + f"/line/webhook/{channel.webhook_key}")
        info = dict(url=url, owner=owner.email, customer_id=customer.id, channel_id=sandbox_channel["channel_id"],
                    user_id=user["user_id"])
        db.session.remove()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield info
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()


@pytest.mark.browser
def test_friend_writes_from_the_phone_and_the_owner_answers(browser, line_app, line_sandbox):
    phone_context = browser.new_context(viewport={"width": 375, "height": 800}, locale="ja-JP")
    app_context = browser.new_context(base_url=line_app["url"], locale="ja-JP", timezone_id="Asia/Tokyo")
    for context in (phone_context, app_context):
        context.set_default_timeout(TIMEOUT_MS)
    try:
        phone = phone_context.new_page()
        phone.goto(f"{line_sandbox.url}/phone/{line_app['channel_id']}/{line_app['user_id']}")
        phone.get_by_role("button", name="友だち追加").click()
        phone.get_by_label("メッセージ").fill("こんにちは")
        phone.get_by_label("メッセージ").press("Enter")
        expect(phone.locator(".row--user .bubble", has_text="こんにちは")).to_be_visible()
        expect(phone.locator(".meta", has_text="webhook 200").last).to_be_visible()

        owner = app_context.new_page()
        owner.goto("/login")
        owner.get_by_label("メールアドレス").fill(line_app["owner"])
        owner.get_by_label("パスワード").fill(factories.PASSWORD)
        owner.get_by_role("button", name="ログイン").click()
        owner.goto(f"/customers/{line_app['customer_id']}/line")
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
        sent = line_sandbox.sent(line_app["channel_id"])
        assert [s["via"] for s in sent] == ["reply"]  # the friend's message left a fresh reply token
    finally:
        phone_context.close()
        app_context.close()
