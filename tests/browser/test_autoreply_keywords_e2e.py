"""自動応答 settings in Chromium, as the owner: キーワード応答 (rules, errors beside the field, the test page,
on/off, delete) and 予約リマインダー (time, text, off); each with its preview and テスト送信."""
import pytest
from playwright.sync_api import expect

from tests.browser.autoreply_helpers import (  # noqa: F401 (fixtures)
    PHONE_NAME,
    field_error,
    open_setting,
    owner_and_phone,
    preview,
    salon,
    send_test,
)

pytestmark = pytest.mark.browser
HOURS_REPLY = "{LINE名}様、営業時間は10時〜19時です。"


def _rule(page, name, keyword, match, priority, kind, text=None, image_url=None):
    page.get_by_label("ルール名").fill(name)
    page.get_by_label("キーワード").fill(keyword)
    page.get_by_label("一致の条件").select_option(label=match)
    page.get_by_label("優先度（大きいほど優先）").fill(str(priority))
    page.get_by_label("返信の内容").select_option(label=kind)
    if text is not None:
        page.get_by_label("返信テキスト").fill(text)
    if image_url is not None:
        page.get_by_label("画像のURL（https://）").fill(image_url)
    page.get_by_role("button", name="保存").click()


def _ask(page, text):
    """The test box: which rule would answer `text`."""
    page.get_by_label("お客様のメッセージ").fill(text)
    page.get_by_role("button", name="どのルールが返信するか確認").click()
    return page.locator("#test-result")


def test_keyword_rules_errors_test_page_toggle_and_test_send(owner_and_phone):  # noqa: F811
    owner, phone = owner_and_phone
    owner.goto("/customers/")
    open_setting(owner, "キーワード応答")
    expect(owner.get_by_text("ルールはまだありません。")).to_be_visible()

    owner.get_by_role("link", name="ルールを追加").click()
    # LINE counts UTF-16 units: 2,501 emoji (5,002 units) are refused beside the reply, 2,500 are not.
    _rule(owner, "営業時間", "営業時間", "部分一致（含む）", 1, "テキスト", "😀" * 2501)
    expect(field_error(owner, "reply_text")).to_have_text("メッセージが長すぎます（差し込みを含めて最大 5002 / 5000 文字）。")
    expect(owner.get_by_label("ルール名")).to_have_value("営業時間")
    owner.get_by_label("返信テキスト").fill("😀" * 2500)
    owner.get_by_role("button", name="保存").click()
    expect(owner.locator(".flash-success")).to_have_text("キーワード応答「営業時間」を保存しました。")
    expect(preview(owner)).to_contain_text("😀" * 2500)
    owner.get_by_label("返信テキスト").fill(HOURS_REPLY)
    owner.get_by_label("キーワード").fill("　")  # only a full-width space: no keyword
    owner.get_by_role("button", name="保存").click()
    expect(field_error(owner, "keyword")).to_have_text("キーワードを入力してください。")
    owner.get_by_label("キーワード").fill("営業時間")
    owner.get_by_role("button", name="保存").click()
    expect(preview(owner)).to_have_text("お客様のLINEでの表示 山田 花子様、営業時間は10時〜19時です。")
    owner.reload()
    expect(owner.get_by_label("返信テキスト")).to_have_value(HOURS_REPLY)
    expect(owner.get_by_label("一致の条件")).to_have_value("contains")
    expect(owner.get_by_label("優先度（大きいほど優先）")).to_have_value("1")
    send_test(owner, phone, owner.locator(".test-send"), f"{PHONE_NAME}様、営業時間は10時〜19時です。")

    owner.get_by_role("link", name="← キーワード応答").click()
    owner.get_by_role("link", name="ルールを追加").click()
    _rule(owner, "地図", "地図", "前方一致（で始まる）", 0, "画像", image_url="http://example.com/map.png")
    expect(field_error(owner, "image_url")).to_have_text("画像のURLは https:// で始まるアドレスを入力してください。")
    owner.get_by_label("画像のURL（https://）").fill("https://example.com/map.png")
    owner.get_by_role("button", name="保存").click()
    expect(owner.locator(".flash-success")).to_have_text("キーワード応答「地図」を保存しました。")
    owner.get_by_role("link", name="← キーワード応答").click()
    owner.get_by_role("link", name="ルールを追加").click()
    _rule(owner, "予約の確認", "予約確認", "完全一致", 5, "予約確認（連携済みのお客様の今後のご予約、未連携なら連携カード）")
    expect(preview(owner)).to_contain_text("山田 花子 様のご予約（1件）")
    expect(preview(owner)).to_contain_text("顧客情報を連携する")

    owner.get_by_role("link", name="← キーワード応答").click()
    expect(owner.get_by_text("3 / 200 件")).to_be_visible()
    expect(owner.locator("#rules tbody tr td:nth-child(2)")).to_have_text(["予約の確認", "営業時間", "地図"])

    # The test page: NFKC and case are ignored, and the first rule by priority answers.
    result = _ask(owner, "ＳＡＬＯＮの営業時間は？")
    expect(result).to_contain_text("「営業時間」が返信します。")
    expect(preview(result)).to_contain_text("山田 花子様、営業時間は10時〜19時です。")
    expect(result).to_contain_text("比較に使う形: salonの営業時間は?")
    expect(_ask(owner, "地図を送ってください")).to_contain_text("「地図」が返信します。")
    expect(_ask(owner, "お店の地図")).to_contain_text("一致するルールはありません")  # 前方一致 only
    expect(_ask(owner, "予約確認")).to_contain_text("「予約の確認」が返信します。")

    hours_row = owner.locator("#rules tr", has_text="営業時間")
    hours_row.get_by_role("button", name="オン").click()
    expect(owner.locator(".flash-success")).to_have_text("「営業時間」をオフにしました。")
    expect(_ask(owner, "営業時間は？")).to_contain_text("一致するルールはありません")
    hours_row.get_by_role("button", name="オフ").click()
    expect(owner.locator(".flash-success")).to_have_text("「営業時間」をオンにしました。")
    expect(_ask(owner, "営業時間は？")).to_contain_text("「営業時間」が返信します。")

    owner.locator("#rules tr", has_text="地図").get_by_role("button", name="削除").click()
    expect(owner.locator(".flash-success")).to_have_text("「地図」を削除しました。")
    expect(owner.get_by_text("2 / 200 件")).to_be_visible()
    expect(_ask(owner, "地図を送ってください")).to_contain_text("一致するルールはありません")


REMINDER = "{お客様名}様 明日{日時}、{メニュー}でお待ちしております。{店舗名}"


def test_reminder_time_text_off_and_test_send(owner_and_phone):  # noqa: F811
    owner, phone = owner_and_phone
    owner.goto("/customers/")
    open_setting(owner, "予約リマインダー")
    # The defaults: on, the day before at 18:00.
    expect(owner.get_by_label("予約の前日にリマインダーを送る")).to_be_checked()
    expect(owner.get_by_label("送信時刻（前日）")).to_have_value("18:00")
    expect(preview(owner)).to_contain_text("山田 花子 様\n明日のご予約のお知らせです。")

    owner.get_by_label("送信時刻（前日）").fill("")
    owner.get_by_label("リマインダーのテキスト").fill("")
    owner.get_by_role("button", name="保存").click()
    expect(field_error(owner, "reminder_time")).to_have_text("送信時刻を入力してください。")
    owner.get_by_label("送信時刻（前日）").fill("09:30")
    owner.get_by_role("button", name="保存").click()
    expect(field_error(owner, "reminder_text")).to_have_text("メッセージを入力してください。")
    owner.get_by_label("リマインダーのテキスト").fill(REMINDER)
    owner.get_by_role("button", name="保存").click()
    expect(owner.locator(".flash-success")).to_have_text("予約リマインダーを保存しました。")
    expect(preview(owner)).to_contain_text(
        "山田 花子様 明日2026年11月24日(火) 10:00〜11:00、カットでお待ちしております。E2Eサロン")
    owner.reload()
    expect(owner.get_by_label("送信時刻（前日）")).to_have_value("09:30")
    expect(owner.get_by_label("リマインダーのテキスト")).to_have_value(REMINDER)
    send_test(owner, phone, owner.locator(".test-send"), "お待ちしております。E2Eサロン")

    owner.get_by_label("予約の前日にリマインダーを送る").uncheck()
    owner.get_by_role("button", name="保存").click()
    expect(owner.locator(".flash-success")).to_have_text("予約リマインダーを保存しました。")
    owner.reload()
    expect(owner.get_by_label("予約の前日にリマインダーを送る")).not_to_be_checked()
    open_setting(owner, "概要")
    expect(owner.locator(".list-item", has_text="予約リマインダー").locator(".badge")).to_have_text("オフ")
