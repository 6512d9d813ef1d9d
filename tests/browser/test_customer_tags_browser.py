"""Tags edited in place, 配信停止, the tag filter and the CSV import report, in headless Chromium."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_ledger_browser import (
    assert_same_document,
    mark_document,
    sign_in,
)

pytestmark = pytest.mark.browser


def test_tags_in_place_opt_out_and_the_ledger_filter(page, seed):
    sign_in(page, seed)
    page.goto(f"/customers/{seed.other.id}")
    mark_document(page)
    tags = page.locator("#customer-tags")
    tags.get_by_label("新しいタグ").fill("ブラウザ常連")
    tags.get_by_label("色").select_option("purple")
    tags.get_by_role("button", name="作成して付ける").click()
    chip = tags.locator(".tag-chip.tag-purple", has_text="ブラウザ常連")
    expect(chip).to_be_visible()
    # the same name again: the error beside the field, the typed name kept
    tags.get_by_label("新しいタグ").fill("ブラウザ常連")
    tags.get_by_role("button", name="作成して付ける").click()
    expect(tags.locator(".error")).to_have_text("同じ名前のタグが既にあります。")
    expect(tags.get_by_label("新しいタグ")).to_have_value("ブラウザ常連")
    tags.get_by_role("button", name="タグ「ブラウザ常連」を外す").click()
    expect(chip).to_have_count(0)
    tags.get_by_label("タグを付ける").select_option(label="ブラウザ常連")
    tags.get_by_role("button", name="タグを付ける").click()
    expect(tags.locator(".tag-chip", has_text="ブラウザ常連")).to_be_visible()

    opt_out = page.locator("#customer-opt-out")
    opt_out.get_by_role("button", name="配信停止にする").click()
    expect(opt_out.locator(".badge-opt-out")).to_have_text("配信停止")
    assert_same_document(page)

    page.goto("/customers/")
    mark_document(page)
    page.get_by_label("タグで絞り込み").select_option(label="ブラウザ常連")
    results = page.locator("#customer-results")
    expect(results.locator(".result-count")).to_contain_text("タグ「ブラウザ常連」")
    expect(results.locator(".customer-name")).to_have_text([seed.other.name])
    expect(results.locator(".badge-opt-out")).to_have_count(1)
    assert_same_document(page)
    expect(page).to_have_url(re.compile(r"tag=\d+"))

    page.goto(f"/customers/{seed.other.id}")
    page.locator("#customer-opt-out").get_by_role("button", name="配信停止を解除").click()
    expect(page.locator("#customer-opt-out")).to_contain_text("一斉配信を受け取ります")


def test_csv_import_with_an_error_report(page, seed, tmp_path):
    sign_in(page, seed)
    csv_file = tmp_path / "顧客.csv"
    csv_file.write_bytes("氏名,電話,誕生日\r\n取込 太郎,090-5555-0001,平成2年1月2日\r\n取込 次郎,090-12,\r\n"
                         .encode("cp932"))
    page.get_by_role("link", name="CSV取り込み").click()
    page.get_by_label("CSVファイル").set_input_files(str(csv_file))
    page.get_by_role("button", name="次へ（列の確認）").click()
    expect(page.get_by_role("heading", name="列の対応とプレビュー")).to_be_visible()
    expect(page.get_by_label("電話", exact=True)).to_have_value("1")
    preview = page.locator("table.import-preview")
    expect(preview).to_contain_text("新規登録")
    expect(preview).to_contain_text("電話番号として正しくありません")
    page.get_by_role("button", name="2 行を取り込む").click()
    expect(page.get_by_role("heading", name="取り込み結果")).to_be_visible()
    expect(page.locator(".import-summary")).to_contain_text("新規登録: 1 人")
    expect(page.locator("table.import-skipped tbody tr")).to_have_text([re.compile(r"^3\s*電話番号として正しくありません")])
