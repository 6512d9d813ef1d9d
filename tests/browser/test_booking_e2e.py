"""End to end: a visitor books through 「LINE連携する」 on the booking page; the owner sees it on the linked record."""
import re
import threading

import pytest
from flask_migrate import upgrade
from playwright.sync_api import expect
from werkzeug.serving import make_server

from crm import create_app
from crm.bookings.demo import seed_booking_demo
from crm.config import TestingConfig
from crm.extensions import db
from crm.line_platform.services import channel_for_shop, save_channel
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, _QuietRequestHandler

pytestmark = pytest.mark.browser


@pytest.fixture
def booking_app(tmp_path, line_sandbox):
    """The app from a thread with the demo menu; its LINE channel and LINE Login channel are the sandbox's."""

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'booking-e2e.sqlite3'}"
        LINE_API_BASE_URL = line_sandbox.url
        LINE_ACCESS_BASE_URL = line_sandbox.url
        MEDIA_STORAGE_DIR = str(tmp_path / "media")
        JOBS_MODE = "thread"  # as in the embedded default: requests answer, jobs run after

    app = create_app(Config)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietRequestHandler)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = url
    with app.app_context():
        upgrade()
        shop, owner = factories.make_shop(name="E2E予約サロン")
        seed_booking_demo(shop, bookings=0)
        bot = line_sandbox.add_channel(bot_name="E2E予約サロン")
        channel = channel_for_shop(shop.id)
        save_channel(channel, bot["channel_id"], bot["channel_secret"], bot["channel_access_token"])
        login = line_sandbox.add_login_channel(bot_channel_id=bot["channel_id"],
                                               callback_urls=[f"{url}/book/{shop.booking_key}/line/callback"])
        channel.login_channel_id, channel.login_channel_secret = login["channel_id"], login["channel_secret"]
        db.session.commit()
        line_sandbox.add_channel(channel_id=bot["channel_id"], channel_secret=bot["channel_secret"],
                                 channel_access_token=bot["channel_access_token"], bot_name="E2E予約サロン",
                                 webhook_url=f"{url}/line/webhook/{channel.webhook_key}")
        user = line_sandbox.add_user(display_name="伊藤 さくら")
        info = dict(url=url, key=shop.booking_key, owner=owner.email, channel_id=bot["channel_id"],
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


def test_a_visitor_books_with_line_and_the_owner_sees_it_on_the_linked_record(browser, booking_app, line_sandbox):
    visitor_context = browser.new_context(base_url=booking_app["url"], locale="ja-JP", timezone_id="Asia/Tokyo",
                                          viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    phone_context = browser.new_context(viewport={"width": 375, "height": 800}, locale="ja-JP")
    owner_context = browser.new_context(base_url=booking_app["url"], locale="ja-JP", timezone_id="Asia/Tokyo")
    problems = []
    for context in (visitor_context, phone_context, owner_context):
        context.set_default_timeout(TIMEOUT_MS)
    try:
        visitor = visitor_context.new_page()
        visitor.on("pageerror", lambda error: problems.append(str(error)))
        visitor.on("response", lambda r: r.status >= 500 and problems.append(f"{r.status} {r.url}"))
        visitor.goto(f"/book/{booking_app['key']}")
        expect(visitor.get_by_role("heading", name="E2E予約サロン")).to_be_visible()
        visitor.locator(".menu-item", has_text="シャンプー・ブロー込み").click()  # カット 60分 ¥4,400
        first_time = visitor.locator(".time-grid a").first
        expect(first_time).to_be_visible()
        chosen_day = visitor.locator("#times h3").inner_text()  # e.g. 11月24日(火)
        chosen_time = first_time.inner_text()
        first_time.click()

        expect(visitor.locator(".summary")).to_contain_text(chosen_time)
        visitor.get_by_role("button", name="LINE連携する").click()
        # The sandbox's LINE Login page: pick the user; adding the shop as a friend is ticked.
        expect(visitor.get_by_role("heading", name="どのLINEユーザーとしてログインしますか？")).to_be_visible()
        expect(visitor.get_by_label("「E2E予約サロン」を友だち追加")).to_be_checked()
        visitor.get_by_role("button", name=re.compile("伊藤 さくら")).click()

        expect(visitor.locator(".line-signed-in")).to_contain_text("伊藤 さくら としてLINEでログイン中")
        visitor.get_by_label("姓", exact=True).fill("伊藤")
        visitor.get_by_label("名", exact=True).fill("さくら")
        visitor.get_by_label("セイ", exact=True).fill("イトウ")
        visitor.get_by_label("メイ", exact=True).fill("サクラ")
        visitor.get_by_label("携帯電話番号").fill("090-2468-1357")
        visitor.get_by_role("button", name="予約を確定する").click()

        expect(visitor.get_by_role("heading", name="ご予約を承りました")).to_be_visible()
        summary = visitor.locator(".summary")
        expect(summary).to_contain_text("伊藤 さくら 様")
        expect(summary).to_contain_text(chosen_day)
        expect(summary).to_contain_text(chosen_time + "〜")
        expect(summary).to_contain_text("カット")
        expect(summary).to_contain_text("¥4,400")
        expect(visitor.get_by_text("ご予約の確認をLINEでお送りしました。")).to_be_visible()
        no_overflow = visitor.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert no_overflow, "the booking page scrolls sideways on a phone"

        # The LINE confirmation reached the user's phone.
        phone = phone_context.new_page()
        phone.goto(f"{line_sandbox.url}/phone/{booking_app['channel_id']}/{booking_app['user_id']}")
        confirmation = phone.locator(".row--bot .bubble", has_text="ご予約ありがとうございます")
        expect(confirmation).to_be_visible(timeout=3 * TIMEOUT_MS)  # delivered by a job after the commit
        expect(confirmation).to_contain_text("カット")
        expect(confirmation).to_contain_text(chosen_time)

        # The owner: the customer is in the ledger, linked to LINE, with the booking on the 予約 tab.
        owner = owner_context.new_page()
        owner.goto("/login")
        owner.get_by_label("メールアドレス").fill(booking_app["owner"])
        owner.get_by_label("パスワード", exact=True).fill(factories.PASSWORD)
        owner.get_by_role("button", name="ログイン", exact=True).click()
        expect(owner).to_have_url(re.compile(r"/customers/$"))
        row = owner.locator(".customer-list .list-item", has_text="伊藤 さくら")
        expect(row.locator(".line-mark")).to_be_visible()
        row.get_by_role("link").click()
        owner.get_by_role("tab", name="予約").click()
        upcoming = owner.locator(".upcoming-bookings")
        expect(upcoming).to_contain_text(chosen_time)
        expect(upcoming).to_contain_text("カット")
        expect(upcoming.locator(".line-mark")).to_be_visible()

        owner.get_by_role("link", name="予約", exact=True).click()  # the day list in the top bar
        expect(owner).to_have_url(re.compile(r"/bookings$"))
        assert not problems, problems
    finally:
        for context in (visitor_context, phone_context, owner_context):
            context.close()
