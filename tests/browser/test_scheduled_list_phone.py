"""送信予約 on a 375 px phone: no 「·」 alone on a line, and 予約を取り消す asks before it cancels."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from crm.conversations.models import LineFriend, LineMessage, SendStatus
from crm.database import utcnow
from crm.extensions import db
from crm.line_tab import scheduling
from crm.shops.models import Shop
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, sign_in
from tests.browser.test_line_drafts_e2e import salon  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser


def _status(line_app, message_id):
    return line_app.run(lambda: db.session.get(LineMessage, message_id).status)


def test_the_scheduled_list_on_a_phone(browser, line_app, salon):  # noqa: F811
    def seed():
        shop = db.session.get(Shop, line_app.shop_id)
        friend = db.session.scalars(sa.select(LineFriend).where(LineFriend.line_user_id == salon["user_id"])).one()
        # Names as wide as the phone's row: each part fills a line, so a bare separator would get one of its own.
        staff = factories.make_staff(shop, name="表参道本店トップスタイリスト兼カラーリスト教育担当マネージャー 山田太郎")
        approver = factories.make_staff(shop, name="表参道本店店長兼エリアマネージャー兼採用教育担当責任者 佐藤花子")
        due = utcnow() + timedelta(days=2)
        return scheduling.schedule_text(friend, "明後日のご案内です", sender_id=staff.id, scheduled_at=due,
                                        approved_by_id=approver.id).id

    message_id = line_app.run(seed)
    context = browser.new_context(base_url=line_app.url, locale="ja-JP", timezone_id="Asia/Tokyo",
                                  viewport={"width": 375, "height": 800}, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, line_app.owner_email)
        page.goto("/line/scheduled")
        item = page.locator(f"#sched-{message_id}")
        expect(item).to_be_visible()
        # On a phone the parts wrap onto lines of their own: no 「·」 is drawn, neither as text nor by CSS.
        drawn = item.locator(".draft-meta").evaluate("""p => {
            const dots = [];
            const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                if (node.textContent.includes("·")) dots.push(node.textContent.trim());
            }
            for (const el of p.querySelectorAll("*")) {
                const content = getComputedStyle(el, "::before").content;
                if (content && content.includes("·")) dots.push("::before " + el.textContent.trim());
            }
            return dots;
        }""")
        assert drawn == [], drawn
        assert "山田太郎" in item.locator(".draft-meta").inner_text()

        asked = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        item.get_by_role("button", name="予約を取り消す").click()
        page.wait_for_timeout(300)
        assert asked == ["この送信予約を取り消しますか？"]
        assert _status(line_app, message_id) == SendStatus.SCHEDULED  # dismissed: nothing cancelled

        page.once("dialog", lambda dialog: dialog.accept())
        item.get_by_role("button", name="予約を取り消す").click()
        expect(page.locator(f"#sched-{message_id}")).to_have_count(0)
        assert _status(line_app, message_id) == SendStatus.CANCELLED
    finally:
        context.close()
