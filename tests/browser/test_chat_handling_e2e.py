"""Issue 13 in Chromium, handling conversations in LINEトーク: 要対応 / 対応済み and the inbox's filters,
the 担当者 and 自分の担当, ノート (never sent to LINE), and チャット内検索 opening the conversation at its hit."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from crm.conversations.models import Direction, LineFriend, LineMessage, SendStatus
from crm.database import utcnow
from crm.extensions import db
from tests.browser.chat_helpers import (  # noqa: F401 (fixtures)
    LIVE_MS,
    add_friend,
    browser_pages,
    chat_salon,
    sent_messages,
    writes,
)

pytestmark = pytest.mark.browser


def _filter(page, name):
    """Choose one of the inbox's filters (すべて, 未読, 要対応, 対応済み, 自分の担当)."""
    page.get_by_role("navigation", name="絞り込み").get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("navigation", name="絞り込み").locator("[aria-current=page]")).to_have_text(name)


def _names(page):
    return page.locator("#inbox-live .inbox .customer-name")


def _state(page):
    return page.locator(".conversation-state")


def test_new_messages_need_attention_and_a_reply_or_the_button_handles_them(browser, chat_salon, line_sandbox):
    hanako = add_friend(chat_salon, line_sandbox, "山田", "花子", "090-5555-0201", tag="VIP")
    ken = add_friend(chat_salon, line_sandbox, "高橋", "健", "090-5555-0202")
    with browser_pages(browser, chat_salon, "owner", phones=[chat_salon.phone_url(line_sandbox, hanako)]) as (owner, phone):
        owner.goto("/line/inbox")
        _filter(owner, "要対応")
        expect(owner.locator("#inbox-live .empty")).to_have_text("条件に合うトークはありません。")

        # Two friends write: both come into 要対応 (and 未読) on the open page.
        phone.get_by_label("メッセージ").fill("明日の予約を30分遅らせられますか？")
        phone.get_by_label("メッセージ").press("Enter")
        expect(_names(owner)).to_have_text(["山田 花子"], timeout=LIVE_MS)
        writes(line_sandbox, chat_salon, ken, "駐車場はありますか？")
        expect(_names(owner)).to_have_text(["高橋 健", "山田 花子"], timeout=LIVE_MS)
        expect(owner.locator(".inbox .list-item", has_text="山田 花子").locator(".attention-open")).to_have_text("要対応")
        _filter(owner, "未読")
        expect(_names(owner)).to_have_text(["高橋 健", "山田 花子"])
        _filter(owner, "対応済み")
        expect(owner.locator("#inbox-live .empty")).to_be_visible()
        _filter(owner, "すべて")
        owner.get_by_label("タグ").select_option(label="VIP")
        expect(_names(owner)).to_have_text(["山田 花子"])
        expect(owner.locator(".inbox .list-item .tag-chip")).to_have_text(["VIP"])

        # A reply handles it: 対応済み; and opening it read it.
        owner.locator(".inbox .list-item", has_text="山田 花子").locator("a").click()
        expect(_state(owner).locator("[data-state=open]")).to_have_text("要対応")
        owner.get_by_label("メッセージ", exact=True).fill("大丈夫です。10時30分にお待ちしております。")
        owner.get_by_role("button", name="送信", exact=True).click()
        expect(_state(owner).locator("[data-state=done]")).to_have_text("対応済み")
        expect(phone.locator(".row--bot .bubble", has_text="10時30分にお待ちしております")).to_be_visible(timeout=LIVE_MS)
        owner.goto("/line/inbox?filter=open")
        expect(_names(owner)).to_have_text(["高橋 健"])
        _filter(owner, "対応済み")
        expect(_names(owner)).to_have_text(["山田 花子"])
        _filter(owner, "未読")
        expect(_names(owner)).to_have_text(["高橋 健"])

        # The button handles one without a reply; a new message needs attention again, live in the filter.
        owner.locator(".inbox .list-item", has_text="高橋 健").locator("a").click()
        _state(owner).get_by_role("button", name="対応済みにする").click()
        expect(_state(owner).locator("[data-state=done]")).to_have_text("対応済み")
        owner.goto("/line/inbox?filter=open")
        expect(owner.locator("#inbox-live .empty")).to_be_visible()
        phone.get_by_label("メッセージ").fill("ありがとうございます！")
        phone.get_by_label("メッセージ").press("Enter")
        expect(_names(owner)).to_have_text(["山田 花子"], timeout=LIVE_MS)

        # And by hand the other way: 要対応にする.
        owner.goto(ken.tab)
        _state(owner).get_by_role("button", name="要対応にする").click()
        expect(_state(owner).locator("[data-state=open]")).to_have_text("要対応")
        owner.goto("/line/inbox?filter=open")
        expect(_names(owner)).to_have_text(["山田 花子", "高橋 健"])
        assert [m["text"] for _to, m in sent_messages(line_sandbox, chat_salon)] == ["大丈夫です。10時30分にお待ちしております。"]


def test_the_assignee_is_shown_and_is_in_their_own_filter(browser, chat_salon, line_sandbox):
    yumi = add_friend(chat_salon, line_sandbox, "佐藤", "由美", "090-5555-0203")
    writes(line_sandbox, chat_salon, yumi, "カラーの相談をしたいです")
    with browser_pages(browser, chat_salon, "owner", "staff") as (owner, staff):
        owner.goto(yumi.tab)
        expect(owner.locator(".msg-in .msg-text", has_text="カラーの相談")).to_be_visible(timeout=LIVE_MS)
        assignee = _state(owner).get_by_label("担当者")
        expect(assignee).to_have_value("")  # 未割り当て
        assignee.select_option(label=chat_salon.staff_name)
        expect(_state(owner).get_by_label("担当者").locator("option:checked")).to_have_text(chat_salon.staff_name)
        owner.reload()
        expect(_state(owner).get_by_label("担当者").locator("option:checked")).to_have_text(chat_salon.staff_name)

        owner.goto("/line/inbox")
        row = owner.locator(".inbox .list-item", has_text="佐藤 由美")
        expect(row.locator(".inbox-assignee")).to_have_text(f"担当: {chat_salon.staff_name}")
        _filter(owner, "自分の担当")
        expect(owner.locator("#inbox-live .empty")).to_be_visible()  # not the owner's

        staff.goto("/line/inbox")
        _filter(staff, "自分の担当")
        expect(_names(staff)).to_have_text(["佐藤 由美"])
        # The staff member hands it back to the owner: it leaves their list for the owner's.
        staff.locator(".inbox .list-item", has_text="佐藤 由美").locator("a").click()
        _state(staff).get_by_label("担当者").select_option(label=chat_salon.owner_name)
        expect(_state(staff).get_by_label("担当者").locator("option:checked")).to_have_text(chat_salon.owner_name)
        staff.goto("/line/inbox?filter=mine")
        expect(staff.locator("#inbox-live .empty")).to_be_visible()
        owner.reload()
        expect(_names(owner)).to_have_text(["佐藤 由美"])
        expect(owner.locator(".inbox-assignee")).to_have_text(f"担当: {chat_salon.owner_name}")


def test_notes_are_shown_inline_with_their_author_and_never_sent(browser, chat_salon, line_sandbox):
    mika = add_friend(chat_salon, line_sandbox, "中村", "美香", "090-5555-0204")
    writes(line_sandbox, chat_salon, mika, "前回と同じ色でお願いします")
    phone_url = chat_salon.phone_url(line_sandbox, mika)
    with browser_pages(browser, chat_salon, "owner", "staff", phones=[phone_url]) as (owner, staff, phone):
        owner.goto(mika.tab)
        staff.goto(mika.tab)
        expect(staff.locator(".msg-in .msg-text", has_text="前回と同じ色")).to_be_visible(timeout=LIVE_MS)
        staff.get_by_text("ノートを書く", exact=True).click()
        staff.get_by_label("ノート（スタッフだけが見られます。お客様には送信されません）").fill("前回はアッシュ系8トーン。")
        staff.get_by_role("button", name="ノートを残す").click()

        for page in (staff, owner):  # the owner's open page gets it by polling
            note = page.locator(".msg-note", has_text="前回はアッシュ系8トーン。")
            expect(note).to_be_visible(timeout=LIVE_MS)
            expect(note.locator(".badge-note")).to_have_text("ノート")
            expect(note.locator(".note-author")).to_have_text(chat_salon.staff_name)
            expect(note).to_contain_text("（お客様には送信されません）")
        # The owner answers below the note: only the answer goes to LINE.
        owner.get_by_label("メッセージ", exact=True).fill("承知しました。同じ色でご用意します。")
        owner.get_by_role("button", name="送信", exact=True).click()
        expect(phone.locator(".row--bot .bubble", has_text="同じ色でご用意します")).to_be_visible(timeout=LIVE_MS)
        expect(phone.get_by_text("アッシュ系", exact=False)).to_have_count(0)
        assert [m["text"] for _to, m in sent_messages(line_sandbox, chat_salon)] == ["承知しました。同じ色でご用意します。"]


def test_search_highlights_hits_and_opens_the_conversation_at_the_message(browser, chat_salon, line_sandbox):
    aoi = add_friend(chat_salon, line_sandbox, "小林", "葵", "090-5555-0205")
    riku = add_friend(chat_salon, line_sandbox, "加藤", "陸", "090-5555-0206")

    def history():
        """A year of 葵's chat: the hit, then 40 messages more (more than the newest page)."""
        start = utcnow() - timedelta(days=365)
        friend = db.session.get(LineFriend, aoi.friend_id)
        texts = ["白髪ぼかしのカラーは何分かかりますか？"] + [f"{n}回目のご来店ありがとうございました" for n in range(1, 41)]
        for n, text in enumerate(texts):
            db.session.add(LineMessage(shop_id=chat_salon.shop_id, friend_id=friend.id, message_type="text", text=text,
                                       direction=Direction.INCOMING if n % 2 == 0 else Direction.OUTGOING,
                                       status=None if n % 2 == 0 else SendStatus.SENT,
                                       payload={}, sent_at=start + timedelta(days=n)))
        friend.last_message_at = start + timedelta(days=len(texts))

    chat_salon.run(history)
    writes(line_sandbox, chat_salon, riku, "白髪ぼかしをお願いしたいです")
    with browser_pages(browser, chat_salon, "staff") as (staff,):
        staff.goto("/line/inbox")
        expect(_names(staff)).to_have_text(["加藤 陸", "小林 葵"], timeout=LIVE_MS)
        staff.get_by_label("チャット内検索").fill("白髪ぼかし")
        staff.get_by_role("button", name="検索", exact=True).click()
        expect(staff.get_by_role("heading", name="チャット内検索")).to_be_visible()
        hits = staff.locator(".search-messages .search-hit")
        expect(hits).to_have_count(2)
        expect(hits.locator("mark")).to_have_text(["白髪ぼかし", "白髪ぼかし"])
        expect(hits.first.locator("strong")).to_have_text("加藤 陸")  # newest first
        expect(hits.nth(1)).to_contain_text("カラーは何分かかりますか？")

        # The hit opens 葵's conversation at that year-old message, not at its end.
        hits.nth(1).locator("a").click()
        expect(staff).to_have_url(re.compile(rf"/customers/{aoi.customer_id}/line\?at=\d+#msg-\d+$"))
        focused = staff.locator(".msg-focus")
        expect(focused).to_have_count(1)
        expect(focused.locator(".msg-text")).to_have_text("白髪ぼかしのカラーは何分かかりますか？")
        expect(focused).to_be_in_viewport()
        expect(staff.get_by_text("1回目のご来店ありがとうございました", exact=True)).to_be_visible()
        expect(staff.locator(".msg .msg-text", has_text="40回目のご来店")).to_have_count(0)

        staff.get_by_role("link", name="最新のメッセージへ").click()  # back to the end of the conversation
        expect(staff.locator(".msg .msg-text", has_text="40回目のご来店")).to_be_visible()
        expect(staff.locator(".msg .msg-text", has_text="白髪ぼかし")).to_have_count(0)
