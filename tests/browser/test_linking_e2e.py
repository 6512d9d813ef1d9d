"""End to end: a friend taps 予約を確認する on the sandbox phone, links with the card's form, the owner sees it."""
import re

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from crm.shops.models import Shop
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, sign_in

pytestmark = pytest.mark.browser


def test_friend_links_from_the_rich_menu_card_and_the_owner_sees_the_line_mark(browser, line_app, line_sandbox):
    user = line_sandbox.add_user(display_name="はなこ🌸")

    def seed():
        shop = db.session.get(Shop, line_app.shop_id)
        shop.link_automatically = True  # 自動: the form links at once (確認待ち is tested in tests/linking)
        return factories.make_customer(shop, family_name="山田", given_name="花子", family_name_kana="ヤマダ",
                                       given_name_kana="ハナコ", phone="090-5555-0000").id

    customer_id = line_app.run(seed)
    owner_context = browser.new_context(base_url=line_app.url, locale="ja-JP", timezone_id="Asia/Tokyo")
    phone_context = browser.new_context(viewport={"width": 375, "height": 800}, locale="ja-JP")
    for context in (owner_context, phone_context):
        context.set_default_timeout(TIMEOUT_MS)
    try:
        owner = owner_context.new_page()
        sign_in(owner, line_app.owner_email)
        owner.goto("/settings/line")
        owner.get_by_role("button", name="リッチメニューを設定する").click()
        expect(owner.get_by_text("リッチメニュー（予約する・予約を確認する）を設定しました。")).to_be_visible()
        owner.goto("/customers/")
        row = owner.locator(".customer-list .list-item", has_text="山田 花子")
        expect(row.locator(".line-mark")).to_have_count(0)

        phone = phone_context.new_page()
        phone.goto(f"{line_sandbox.url}/phone/{line_app.channel_id}/{user['user_id']}")
        phone.get_by_role("button", name="友だち追加").click()
        phone.get_by_role("button", name="予約を確認する").click()
        card_link = phone.get_by_role("link", name="顧客情報を連携する")
        expect(card_link).to_be_visible(timeout=3 * TIMEOUT_MS)  # the reply to the postback
        expect(phone.locator(".row--bot", has_text="顧客情報の連携").first).to_be_visible()
        href = card_link.get_attribute("href")
        assert href.startswith(line_app.url + "/link/")

        form = phone_context.new_page()  # LINE opens the card's link in its in-app browser
        form.goto(href)
        form.get_by_label("姓").fill("やまだ")
        form.get_by_label("名", exact=True).fill("はなこ")
        form.get_by_label("携帯電話番号").fill("０９０ー５５５５ー００００")
        form.get_by_role("button", name="顧客情報を連携する").click()
        expect(form.get_by_text("連携が完了しました。LINEの画面に戻ってください。")).to_be_visible()
        expect(phone.locator(".row--bot .bubble", has_text="顧客情報の連携が完了しました")).to_be_visible(
            timeout=3 * TIMEOUT_MS)

        owner.reload()
        expect(row.locator(".line-mark")).to_be_visible()
        row.get_by_role("link").click()
        expect(owner).to_have_url(re.compile(rf"/customers/{customer_id}$"))
        expect(owner.locator(".line-name")).to_have_text("はなこ🌸")
        expect(owner.get_by_role("tab", name="LINE")).to_be_visible()
    finally:
        owner_context.close()
        phone_context.close()
