"""The CSV import as the owner sees it in Chromium (issue 15): 取り込む queues the import, the page polls its
progress (HTMX) as each chunk commits, and the report takes the progress' place without a reload."""
import re

import pytest
from flask import current_app
from playwright.sync_api import expect

from crm import jobs
from crm.customers import import_jobs
from crm.extensions import db
from tests.browser.test_ledger_browser import assert_same_document, mark_document, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def held_jobs(monkeypatch):
    """The live server's jobs, held until the test runs them (in the server's app, one commit each)."""
    held = []
    monkeypatch.setattr(jobs, "enqueue", lambda job, *args, **kwargs: held.append(
        (current_app._get_current_object(), jobs.job_path(job), args)))

    def run_next():
        app, path, args = held.pop(0)
        with app.app_context():
            jobs.run_job(path, *args)
            db.session.remove()

    return held, run_next


def test_the_import_page_shows_each_chunk_then_the_report(page, seed, tmp_path, held_jobs, monkeypatch):
    held, run_next = held_jobs
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 2)
    sign_in(page, seed)
    csv_file = tmp_path / "顧客一覧.csv"
    csv_file.write_bytes(("氏名,フリガナ,電話,誕生日,タグ\r\n"
                          "進捗 一子,シンチョク イチコ,090-5556-0001,平成3年4月5日,進捗テスト\r\n"
                          "進捗 二郎,シンチョク ジロウ,090-5556-0002,,\r\n"
                          "進捗 三子,,090-5556-99,,\r\n"
                          "進捗 四郎,,090-5556-0004,1985/2/30,\r\n"
                          "進捗 五子,,090-5556-0005,,進捗テスト\r\n").encode("cp932"))
    page.goto("/customers/import")
    page.get_by_label("CSVファイル").set_input_files(str(csv_file))
    page.get_by_role("button", name="次へ（列の確認）").click()
    expect(page.get_by_role("heading", name="列の対応とプレビュー")).to_be_visible()
    page.get_by_role("button", name="5 行を取り込む").click()

    expect(page.get_by_role("heading", name="取り込み中")).to_be_visible()
    counts = page.locator("#import-progress .progress-counts")
    expect(counts).to_contain_text("0 / 5 行")
    expect(page.get_by_role("progressbar", name="取り込みの進み具合")).to_have_attribute("value", "0")
    mark_document(page)

    run_next()  # the first chunk: two rows, committed
    expect(counts).to_contain_text("2 / 5 行")
    expect(counts).to_contain_text("新規登録 2")
    while held:
        run_next()

    expect(page.get_by_role("heading", name="取り込み結果")).to_be_visible()
    expect(page.locator("#import-progress")).to_have_count(0)
    expect(page.locator(".import-summary")).to_contain_text("新規登録: 3 人")
    expect(page.locator(".import-summary")).to_contain_text("スキップ: 2 行")
    expect(page.locator("table.import-skipped tbody tr")).to_have_text([
        re.compile(r"^4\s*電話番号として正しくありません"), re.compile(r"^5\s*誕生日の日付が正しくありません")])
    expect(page.get_by_role("link", name="スキップした行と理由をCSVでダウンロード")).to_be_visible()
    assert_same_document(page)  # swapped in by HTMX, not a reload

    page.goto("/customers/?q=進捗")
    expect(page.locator("#customer-results .customer-name")).to_have_count(3)
