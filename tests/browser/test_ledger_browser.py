"""The ledger in real headless Chromium: sign in, search as you type, tabs, phone layout, escaping.

Run with `bin/test tests/browser` (it installs Chromium when missing).
"""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE_WIDTH = 375


def sign_in(page, seed):
    """Open the ledger, get sent to the sign-in form, fill it in as the owner."""
    page.goto("/customers/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("メールアドレス").fill(seed.owner_email)
    page.get_by_label("パスワード", exact=True).fill(seed.password)
    page.get_by_role("button", name="ログイン", exact=True).click()
    expect(page).to_have_url(re.compile(r"/customers/$"))
    expect(page.get_by_role("heading", name="顧客台帳")).to_be_visible()


def mark_document(page):
    """A flag on window that survives HTMX swaps but not a page load."""
    page.evaluate("window.__sameDocument = true")


def assert_same_document(page):
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def search(page, text):
    """Type into the search box character by character (each one an input event for HTMX)."""
    box = page.get_by_role("searchbox", name="検索")
    box.click()
    page.keyboard.type(text)
    # The result heading echoes the query: the last keystroke's request has been swapped in.
    expect(page.locator("#customer-results .result-count")).to_contain_text(f"「{text}」の検索結果")
    return page.locator("#customer-results")


def line_name(page):
    return page.locator("dl.details dt", has_text="LINE名").locator("xpath=following-sibling::dd[1]")


def tab_panel(page):
    return page.get_by_role("tabpanel")


def test_owner_finds_unlinked_customer_by_full_width_phone(page, seed):
    sign_in(page, seed)
    results = page.locator("#customer-results")
    expect(results).to_contain_text(seed.linked.name)  # the whole ledger before searching
    mark_document(page)

    results = search(page, "０９０ー１２３４")

    match = results.get_by_role("link", name=re.compile(seed.unlinked.name))
    expect(match).to_be_visible()
    expect(results.locator(".customer-link")).to_have_count(1)
    expect(results).not_to_contain_text(seed.linked.name)
    expect(results).not_to_contain_text(seed.other.name)
    assert_same_document(page)
    # The search is in the address bar (hx-push-url), as typed.
    assert parse_qs(urlsplit(page.url).query)["q"] == ["０９０ー１２３４"]

    match.click()
    expect(page).to_have_url(re.compile(rf"/customers/{seed.unlinked.id}$"))
    expect(page.get_by_role("heading", name=f"{seed.unlinked.name} 様")).to_be_visible()
    expect(line_name(page)).to_have_text("未連携")
    expect(page.get_by_role("tab")).to_have_text(["顧客情報", "予約"])  # no LINE tab without a friend


def test_linked_customer_shows_line_name_and_switches_tabs(page, seed):
    sign_in(page, seed)
    mark_document(page)
    results = search(page, "０８０ー９８７６")
    match = results.get_by_role("link", name=re.compile(seed.linked.name))
    expect(match.locator(".line-mark")).to_have_text("LINE")
    assert_same_document(page)

    match.click()
    customer_url = re.compile(rf"/customers/{seed.linked.id}$")
    expect(page).to_have_url(customer_url)
    expect(line_name(page)).to_have_text(seed.linked.friend_name)
    tabs = page.get_by_role("tab")
    expect(tabs).to_have_text(["顧客情報", "LINE", "予約"])
    mark_document(page)

    page.get_by_role("tab", name="LINE").click()
    expect(page).to_have_url(re.compile(rf"/customers/{seed.linked.id}/line$"))
    expect(page.get_by_role("tab", name="LINE")).to_have_attribute("aria-selected", "true")
    expect(tab_panel(page)).to_contain_text(seed.linked.friend_name)
    expect(tab_panel(page)).to_contain_text("LINEのメッセージはまだありません。")

    page.get_by_role("tab", name="予約").click()
    expect(page).to_have_url(re.compile(rf"/customers/{seed.linked.id}/bookings$"))
    expect(page.get_by_role("tab", name="予約")).to_have_attribute("aria-selected", "true")
    expect(tab_panel(page)).to_have_text("予約はまだありません。")
    assert_same_document(page)

    # The browser's back button restores the LINE tab from HTMX's history.
    page.go_back()
    expect(page).to_have_url(re.compile(rf"/customers/{seed.linked.id}/line$"))
    expect(page.get_by_role("tab", name="LINE")).to_have_attribute("aria-selected", "true")
    expect(tab_panel(page)).to_contain_text(seed.linked.friend_name)

    page.get_by_role("tab", name="顧客情報").click()
    expect(page).to_have_url(customer_url)
    expect(line_name(page)).to_have_text(seed.linked.friend_name)
    assert_same_document(page)

    # A tab's URL loaded directly is a whole page, not the fragment HTMX fetched.
    page.goto(f"/customers/{seed.linked.id}/bookings")
    expect(page.get_by_role("heading", name=f"{seed.linked.name} 様")).to_be_visible()
    expect(page.get_by_role("tab", name="予約")).to_have_attribute("aria-selected", "true")
    page.go_back()
    expect(page).to_have_url(customer_url)
    expect(page.get_by_role("heading", name=f"{seed.linked.name} 様")).to_be_visible()
    expect(line_name(page)).to_have_text(seed.linked.friend_name)


def assert_fits_phone(page):
    sizes = page.evaluate(
        "({inner: window.innerWidth, scroll: document.documentElement.scrollWidth})"
    )
    assert sizes["inner"] == PHONE_WIDTH, f"{page.url}: the layout viewport is {sizes['inner']}px"
    assert sizes["scroll"] <= PHONE_WIDTH, f"{page.url}: {sizes['scroll']}px wide on a {PHONE_WIDTH}px phone"


def test_ledger_and_customer_fit_a_phone(mobile_page, seed):
    page = mobile_page
    sign_in(page, seed)
    assert_fits_phone(page)
    box = page.get_by_role("searchbox", name="検索")
    expect(box).to_be_visible()
    expect(box).to_be_in_viewport()
    bounds = box.bounding_box()
    assert bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= PHONE_WIDTH

    page.locator(".usermenu summary").click()  # the account menu, opened
    expect(page.get_by_role("button", name="ログアウト")).to_be_visible()
    assert_fits_phone(page)
    page.locator(".usermenu summary").click()

    results = search(page, "０８０ー９８７６")
    assert_fits_phone(page)
    results.get_by_role("link", name=re.compile(seed.linked.name)).click()
    expect(line_name(page)).to_have_text(seed.linked.friend_name)
    assert_fits_phone(page)
    page.get_by_role("tab", name="LINE").click()
    expect(tab_panel(page)).to_contain_text(seed.linked.friend_name)
    assert_fits_phone(page)


def test_markup_typed_into_a_customer_is_shown_as_text(page, seed):
    requests = []
    page.on("request", lambda request: requests.append(urlsplit(request.url).path))
    sign_in(page, seed)
    page.get_by_role("link", name="顧客を追加").click()
    expect(page).to_have_url(re.compile(r"/customers/new$"))

    name = '<svg onload="window.__xss=2">'
    memo = '<img src=x onerror="window.__xss=1">\n<script>window.__xss=3</script>'
    page.get_by_label("姓", exact=True).press_sequentially(name)
    page.get_by_label("名", exact=True).press_sequentially("確認")
    page.get_by_label("メモ").press_sequentially(memo)
    page.get_by_role("button", name="保存").click()

    expect(page.get_by_role("status")).to_have_text("顧客を登録しました。")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{name} 確認 様")
    expect(page.locator("dd.memo")).to_have_text(memo)
    assert page.locator("main img, main svg, main script").count() == 0
    assert page.title().startswith(f"{name} 確認")

    # The same name comes back through an HTMX swap of the search results.
    page.get_by_role("link", name="顧客台帳").first.click()
    results = search(page, "<svg")
    expect(results.locator(".customer-name")).to_have_text(f"{name} 確認")
    assert results.locator("img, svg, script").count() == 0

    assert page.evaluate("typeof window.__xss") == "undefined"
    assert not [path for path in requests if path.endswith("/x")], "the injected <img> was loaded"
    assert not page.problems.dialogs
