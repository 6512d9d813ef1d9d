"""End to end: a visitor books through 「LINE連携する」 on the booking page; the owner sees it on the linked record."""
import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import TIMEOUT_MS

pytestmark = pytest.mark.browser


@pytest.fixture
def booking_app(line_app, line_sandbox):
    """The shared sandbox-connected salon, with a LINE user who will book."""
    user = line_sandbox.add_user(display_name="伊藤 さくら")
    return dict(url=line_app.url, key=line_app.booking_key, owner=line_app.owner_email,
                channel_id=line_app.channel_id, user_id=user["user_id"])


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
        expect(visitor.get_by_role("heading", name="E2Eサロン")).to_be_visible()
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
        expect(visitor.get_by_label("「E2Eサロン」を友だち追加")).to_be_checked()
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
