"""The ledger's CSV import in Chromium: a Shift_JIS file (as Japanese Excel saves it, with or without a BOM) with a
bad phone and a bad date, matched by the key the owner chooses; the preview, the report, the ledger; and the export."""
import codecs
import csv
import io
import re

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from crm.shops.models import Shop
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, sign_in

pytestmark = pytest.mark.browser

ROWS = [
    ["氏名", "フリガナ", "電話", "メール", "誕生日", "タグ", "メモ"],
    ["取込 花子", "トリコミ ハナコ", "090-3333-0001", "hanako@example.com", "平成2年1月2日", "VIP、カラー", "髪質: 細め"],
    ["取込 次郎", "トリコミ ジロウ", "090-12", "jiro@example.com", "1988/5/6", "", ""],  # a phone too short
    ["取込 三郎", "トリコミ サブロウ", "090-3333-0003", "saburo@example.com", "2001/2/30", "", ""],  # no 2月30日
    ["髙木 優子", "タカギ ユウコ", "03-1234-5678", "yuko@example.com", "1985/04/01", "VIP", "①番の席を希望"],
]


def _shift_jis(rows, bom):
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    data = out.getvalue().encode("cp932")  # 髙 and ① are Windows' Shift_JIS (cp932), as Excel writes it
    return codecs.BOM_UTF8 + data if bom else data


@pytest.fixture
def owner_page(browser, line_app):
    """The owner signed in, on a salon of its own whose ledger has 髙木 優子 (known by her email, an old phone)."""

    def seed():
        shop = db.session.get(Shop, line_app.shop_id)
        factories.make_customer(shop, family_name="髙木", given_name="優子", family_name_kana="タカギ",
                                given_name_kana="ユウコ", phone="080-2222-9999", email="yuko@example.com")
        return factories.make_staff(shop).email

    staff_email = line_app.run(seed)
    context = browser.new_context(base_url=line_app.url, viewport={"width": 1280, "height": 900},
                                  locale="ja-JP", timezone_id="Asia/Tokyo", accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    sign_in(page, line_app.owner_email)
    page.staff_email = staff_email
    yield page
    context.close()


@pytest.mark.parametrize("bom", [False, True], ids=["shift_jis", "shift_jis_with_bom"])
def test_a_shift_jis_import_reports_each_skipped_row_and_fills_the_ledger(owner_page, tmp_path, bom):
    page = owner_page
    csv_file = tmp_path / "顧客一覧.csv"
    csv_file.write_bytes(_shift_jis(ROWS, bom))
    page.goto("/customers/")
    page.get_by_role("link", name="CSV取り込み").click()
    page.get_by_label("CSVファイル").set_input_files(str(csv_file))
    page.get_by_role("button", name="次へ（列の確認）").click()

    # The columns are recognised from the header; the preview reads Shift_JIS (髙, ①) and flags the bad rows.
    expect(page.get_by_role("heading", name="列の対応とプレビュー")).to_be_visible()
    expect(page.get_by_text("顧客一覧.csv — 4 行（文字コード: cp932）")).to_be_visible()
    for label, column in (("氏名", "0"), ("フリガナ", "1"), ("電話", "2"), ("メール", "3"), ("誕生日", "4"),
                          ("タグ", "5"), ("メモ", "6")):
        expect(page.get_by_label(label, exact=True)).to_have_value(column)
    preview = page.locator("table.import-preview tbody tr")
    expect(preview).to_have_count(4)
    expect(preview.nth(0)).to_contain_text("新規登録")
    expect(preview.nth(0)).to_contain_text("1990/01/02")  # 平成2年1月2日
    expect(preview.nth(0)).to_contain_text("VIP、カラー")
    expect(preview.nth(1)).to_contain_text("エラー電話番号として正しくありません（例: 090-1234-5678）。")
    expect(preview.nth(2)).to_contain_text("エラー誕生日の日付が正しくありません（例: 1990/1/2、平成2年1月2日）。")
    expect(preview.nth(3)).to_contain_text("新規登録")  # by phone (the default key), 髙木 優子 is someone new

    # The owner chooses: the same email is the same customer, and the CSV updates her.
    page.get_by_label("メールアドレスが同じなら同じ顧客").check()
    page.get_by_label("CSVの内容で更新する（空欄の項目は上書きしません）").check()
    page.get_by_role("button", name="プレビューを更新").click()
    expect(preview.nth(3)).to_contain_text("更新")
    expect(preview.nth(3).locator("td").nth(2)).to_have_text("髙木 優子")

    page.get_by_role("button", name="4 行を取り込む").click()
    expect(page.get_by_role("heading", name="取り込み結果")).to_be_visible()
    expect(page.locator(".import-summary li")).to_have_text(["新規登録: 1 人", "更新: 1 人", "スキップ: 2 行"])
    expect(page.locator("table.import-skipped tbody tr")).to_have_text([
        re.compile(r"^3\s*電話番号として正しくありません（例: 090-1234-5678）。$"),
        re.compile(r"^4\s*誕生日の日付が正しくありません（例: 1990/1/2、平成2年1月2日）。$"),
    ])

    # The good rows are in the ledger; the skipped ones are not.
    page.get_by_role("link", name="← 顧客台帳").click()
    results = page.locator("#customer-results")
    expect(results.locator(".customer-name")).to_have_text(["髙木 優子", "取込 花子"], timeout=TIMEOUT_MS)
    results.get_by_role("link", name=re.compile("取込 花子")).click()
    details = page.locator("dl.details")
    expect(details).to_contain_text("トリコミ ハナコ")
    expect(details).to_contain_text("090-3333-0001")
    expect(details).to_contain_text("hanako@example.com")
    expect(details).to_contain_text("1990/01/02")
    expect(page.locator("#customer-tags .tag-chip")).to_have_text(["VIP", "カラー"])
    expect(details.locator(".memo")).to_have_text("髪質: 細め")
    page.go_back()
    page.locator("#customer-results").get_by_role("link", name=re.compile("髙木 優子")).click()
    details = page.locator("dl.details")
    expect(details).to_contain_text("03-1234-5678")  # updated from the CSV, matched by her email
    expect(details).to_contain_text("1985/04/01")
    expect(details.locator(".memo")).to_have_text("①番の席を希望")


def test_the_export_is_the_owners_and_reads_back_in_shift_jis(owner_page, browser, line_app):
    page = owner_page
    page.goto("/customers/")
    page.get_by_role("link", name="エクスポート").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV（Shift_JIS）").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_bytes().decode("cp932"), newline="")))
    assert rows[0] == ROWS[0]
    assert [row[:4] for row in rows[1:]] == [["髙木 優子", "タカギ ユウコ", "080-2222-9999", "yuko@example.com"]]

    # A staff member has neither the buttons nor the pages.
    context = browser.new_context(base_url=line_app.url, locale="ja-JP", timezone_id="Asia/Tokyo")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        staff = context.new_page()
        sign_in(staff, page.staff_email)
        staff.goto("/customers/")
        expect(staff.get_by_role("heading", name="顧客台帳")).to_be_visible()
        expect(staff.get_by_role("link", name="エクスポート")).to_have_count(0)
        expect(staff.get_by_role("link", name="CSV取り込み")).to_have_count(0)
        for url in ("/customers/export", "/customers/export.csv?encoding=cp932", "/customers/import"):
            staff.goto(url)  # typed in: sent back to the ledger with the reason, no file
            expect(staff).to_have_url(re.compile(r"/customers/$"))
            expect(staff.get_by_text("この操作はオーナーのみ行えます。")).to_be_visible()
    finally:
        context.close()
