"""自動応答 settings in Chromium, as the owner: あいさつメッセージ and 応答時間・時間外 (change, preview,
errors beside the field, save, reload, テスト送信 to the sandbox phone); staff cannot open them."""
import re

import pytest
from playwright.sync_api import expect

from crm.autoreply import services
from tests.browser.autoreply_helpers import (  # noqa: F401 (fixtures)
    PHONE_NAME,
    field_error,
    open_setting,
    owner_and_phone,
    preview,
    salon,
    send_test,
)
from tests.browser.conftest import TIMEOUT_MS, sign_in

pytestmark = pytest.mark.browser
WELCOME = "{LINE名}さん、{店舗名}へようこそ！"
IMAGE = "https://example.com/welcome.png"


def test_greeting_preview_errors_save_and_test_send(owner_and_phone, salon):  # noqa: F811
    owner, phone = owner_and_phone
    owner.goto("/customers/")
    open_setting(owner, "あいさつメッセージ")
    # Before anything is saved: the default greeting, for a sample friend.
    expect(preview(owner)).to_contain_text("山田 花子さん、友だち追加ありがとうございます！")
    expect(preview(owner)).to_contain_text("顧客情報を連携する")

    owner.get_by_label("友だち追加時にあいさつメッセージを送る").check()
    owner.locator("#bubble-1").get_by_label("テキスト").fill(WELCOME)
    owner.locator("#bubble-3").get_by_label("吹き出し3").select_option(label="画像")
    owner.locator("#bubble-3").get_by_label("画像のURL（https://）").fill("http://example.com/welcome.png")
    owner.get_by_role("button", name="プレビュー").click()
    expect(field_error(owner, "bubble_3_url")).to_have_text("画像のURLは https:// で始まるアドレスを入力してください。")
    expect(owner.locator("#bubble-1").get_by_label("テキスト")).to_have_value(WELCOME)  # nothing typed is lost

    owner.locator("#bubble-3").get_by_label("画像のURL（https://）").fill(IMAGE)
    owner.get_by_role("button", name="プレビュー").click()
    bubbles = preview(owner).locator(".preview-bubble")
    expect(bubbles).to_have_count(3)
    expect(bubbles.nth(0)).to_have_text("山田 花子さん、E2Eサロンへようこそ！")
    expect(bubbles.nth(1)).to_contain_text("顧客情報を連携する")  # the default second bubble
    expect(bubbles.nth(2)).to_contain_text(IMAGE)
    # The refollow text, previewed as a friend coming back after a block sees it.
    owner.get_by_label("ブロック解除後の再追加時のテキスト（空欄ならテキストの吹き出しをそのまま送ります）").fill(
        "{LINE名}さん、おかえりなさい！")
    owner.get_by_label("再追加のときの表示").check()
    owner.get_by_role("button", name="プレビュー").click()
    expect(bubbles.nth(0)).to_have_text("山田 花子さん、おかえりなさい！")

    # LINE counts UTF-16 units: 2,501 emoji are 5,002 of the 5,000 allowed, refused beside the bubble.
    owner.locator("#bubble-1").get_by_label("テキスト").fill("😀" * 2501)
    owner.get_by_role("button", name="保存").click()
    expect(field_error(owner, "bubble_1_text")).to_have_text(
        "メッセージが長すぎます（差し込みを含めて最大 5002 / 5000 文字）。")

    owner.locator("#bubble-1").get_by_label("テキスト").fill(WELCOME)
    owner.get_by_role("button", name="保存").click()
    expect(owner.locator(".flash-success")).to_have_text("あいさつメッセージを保存しました。")
    owner.reload()
    expect(owner.get_by_label("友だち追加時にあいさつメッセージを送る")).to_be_checked()
    expect(owner.locator("#bubble-1").get_by_label("テキスト")).to_have_value(WELCOME)
    expect(owner.locator("#bubble-3").get_by_label("吹き出し3")).to_have_value("image")
    expect(owner.locator("#bubble-3").get_by_label("画像のURL（https://）")).to_have_value(IMAGE)
    expect(bubbles.nth(0)).to_have_text("山田 花子さん、E2Eサロンへようこそ！")
    open_setting(owner, "概要")
    expect(owner.locator(".list-item", has_text="あいさつメッセージ").locator(".badge")).to_have_text("オン")

    # テスト送信: the saved greeting as this friend would get it, with their own working linking card.
    open_setting(owner, "あいさつメッセージ")
    send_test(owner, phone, owner.locator(".test-send"), f"{PHONE_NAME}さん、E2Eサロンへようこそ！")
    card = phone.get_by_role("link", name="顧客情報を連携する").last
    expect(card).to_have_attribute("href", re.compile("^" + re.escape(f"{salon.url}/link/")))
    phone.goto(card.get_attribute("href"))
    expect(phone.get_by_role("heading", name="顧客情報の連携")).to_be_visible()
    expect(phone.get_by_role("button", name="顧客情報を連携する")).to_be_visible()


def _hours(page, day, n, opens, closes):
    page.get_by_label(f"{day} 時間帯{n} 開始", exact=True).fill(opens)
    page.get_by_label(f"{day} 時間帯{n} 終了", exact=True).fill(closes)


def test_hours_and_away_text_errors_save_closures_and_test_send(owner_and_phone):  # noqa: F811
    owner, phone = owner_and_phone
    owner.goto("/customers/")
    open_setting(owner, "応答時間・時間外")
    # By default the booking page's hours answer (the demo salon: closed on Mondays, 10:00-19:00 otherwise).
    expect(owner.get_by_label("応答時間", exact=True)).to_have_value("booking")
    booking_hours = owner.locator("details", has_text="予約ページの営業時間")
    booking_hours.locator("summary").click()
    expect(booking_hours.get_by_role("listitem").nth(0)).to_have_text("月曜日: 定休日")
    expect(booking_hours.get_by_role("listitem").nth(1)).to_have_text("火曜日: 10:00〜19:00")
    expect(preview(owner, 0)).to_contain_text("ただいま営業時間外のため")

    owner.get_by_label("応答時間外のメッセージに自動で返信する").check()
    owner.get_by_label("応答時間", exact=True).select_option(label="ここで設定する応答時間と休業日を使う")
    _hours(owner, "火曜日", 1, "10:00", "14:00")
    _hours(owner, "火曜日", 2, "13:00", "19:00")
    owner.get_by_label("時間外メッセージ", exact=True).fill("{LINE名}様、ただいま営業時間外です。{店舗名}")
    owner.get_by_role("button", name="保存").click()
    expect(field_error(owner, "hours_1_1_opens")).to_have_text("火曜日: 時間帯が重なっています。")
    expect(owner.get_by_label("火曜日 時間帯2 開始", exact=True)).to_have_value("13:00")  # kept as typed

    _hours(owner, "火曜日", 1, "10:00", "12:00")
    _hours(owner, "火曜日", 2, "13:00", "24:00")
    _hours(owner, "水曜日", 2, "18:00", "10:00")
    owner.get_by_role("button", name="保存").click()
    expect(field_error(owner, "hours_2_2_opens")).to_have_text("水曜日: 終了は開始より後にしてください。")
    expect(field_error(owner, "hours_1_1_opens")).to_have_count(0)

    _hours(owner, "水曜日", 2, "", "")
    owner.get_by_label("同じお客様への時間外メッセージの間隔（時間）").fill("200")
    owner.get_by_role("button", name="保存").click()
    expect(field_error(owner, "away_window_hours")).to_have_text("0〜168時間で入力してください。")

    owner.get_by_label("同じお客様への時間外メッセージの間隔（時間）").fill("6")
    owner.get_by_label("休業日のメッセージ（空欄なら時間外メッセージ）").fill("本日は休業日です。{店舗名}")
    owner.get_by_role("button", name="保存").click()
    expect(owner.locator(".flash-success")).to_have_text("応答時間と時間外メッセージを保存しました。")
    expect(preview(owner, 0)).to_contain_text("山田 花子様、ただいま営業時間外です。E2Eサロン")
    expect(preview(owner, 1)).to_contain_text("本日は休業日です。E2Eサロン")
    owner.reload()
    expect(owner.get_by_label("応答時間外のメッセージに自動で返信する")).to_be_checked()
    expect(owner.get_by_label("応答時間", exact=True)).to_have_value("custom")
    expect(owner.get_by_label("火曜日 時間帯1 終了", exact=True)).to_have_value("12:00")
    expect(owner.get_by_label("火曜日 時間帯2 終了", exact=True)).to_have_value("24:00")
    expect(owner.get_by_label("水曜日 時間帯2 開始", exact=True)).to_have_value("")
    expect(owner.get_by_label("同じお客様への時間外メッセージの間隔（時間）")).to_have_value("6")

    # 休業日: a range; one ending before it starts is refused beside its end.
    closures = owner.locator("#closures")
    closures.get_by_label("開始日").fill("2026-12-29")
    closures.get_by_label("終了日（1日だけなら空欄）").fill("2026-12-20")
    closures.get_by_role("button", name="休業日を追加").click()
    expect(field_error(owner, "last_day")).to_have_text("終了日は開始日以降にしてください。")
    closures.get_by_label("終了日（1日だけなら空欄）").fill("2027-01-03")
    closures.get_by_label("メモ").fill("年末年始")
    closures.get_by_role("button", name="休業日を追加").click()
    expect(owner.locator(".flash-success")).to_have_text("休業日を追加しました。")
    expect(closures.locator(".list-item")).to_have_text(["2026-12-29〜2027-01-03 年末年始 削除"])
    owner.reload()
    expect(closures.locator(".list-item")).to_contain_text(["2026-12-29〜2027-01-03"])

    send_test(owner, phone, owner.locator(".test-send").nth(0), f"{PHONE_NAME}様、ただいま営業時間外です。E2Eサロン")
    send_test(owner, phone, owner.locator(".test-send").nth(1), "本日は休業日です。E2Eサロン")

    closures.get_by_role("button", name="削除").click()
    expect(owner.locator(".flash-success")).to_have_text("休業日を削除しました。")
    expect(closures.locator(".list-item")).to_have_count(0)


SETTINGS_PAGES = ["/settings/autoreply/", "/settings/autoreply/greeting", "/settings/autoreply/hours",
                  "/settings/autoreply/keywords", "/settings/autoreply/keywords/new",
                  "/settings/autoreply/keywords?text=%E4%BA%88%E7%B4%84", "/settings/autoreply/reminder"]


def test_staff_cannot_open_the_settings_nor_save_them(browser, line_app, salon):  # noqa: F811
    context = browser.new_context(base_url=salon.url, locale="ja-JP", timezone_id="Asia/Tokyo")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, salon.staff_email)
        page.locator(".usermenu summary").click()
        expect(page.locator(".usermenu").get_by_role("link", name="自動応答")).to_have_count(0)
        for path in SETTINGS_PAGES:
            page.goto(path)
            expect(page).to_have_url(f"{salon.url}/customers/")
            expect(page.locator(".flash-error")).to_have_text("この操作はオーナーのみ行えます。")
            expect(page.get_by_role("heading", name="自動応答")).to_have_count(0)
        # A form posted anyway (with the staff member's own CSRF token) is refused the same way, and not saved.
        token = page.locator("meta[name=csrf-token]").get_attribute("content")
        answer = page.request.post("/settings/autoreply/greeting", form={
            "csrf_token": token, "greeting_enabled": "y", "bubble_1_kind": "text", "bubble_1_text": "乗っ取り"})
        assert answer.url == f"{salon.url}/customers/" and "この操作はオーナーのみ行えます。" in answer.text()
        assert line_app.run(lambda: services.settings_for(line_app.shop_id).greeting_enabled) is False
    finally:
        context.close()
