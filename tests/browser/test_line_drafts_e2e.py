"""End to end with the sandbox phone: a draft approved by the owner, a scheduled send, a cancelled one."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from crm import ticker as in_process
from crm.extensions import db
from crm.line_tab import times
from crm.shops.models import Shop
from crm.staff.models import LineSendMode
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, sign_in

pytestmark = pytest.mark.browser
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def salon(line_app, line_sandbox):
    """A customer linked to a sandbox user who is the shop's friend, and a staff member whose drafts need approval."""
    user = line_sandbox.add_user(display_name="はなこ🌸")
    line_sandbox.set_friendship(line_app.channel_id, user["user_id"], "friend")

    def seed():
        shop = db.session.get(Shop, line_app.shop_id)
        customer = factories.make_customer(shop, family_name="山田", given_name="花子", phone="090-5555-0000")
        factories.make_friend(shop, customer, display_name="はなこ🌸", line_user_id=user["user_id"])
        staff = factories.make_staff(shop, line_send_mode=LineSendMode.APPROVAL, name="見習い 翼")
        owner = shop_owner(shop)
        return customer.id, staff.email, owner.name

    def shop_owner(shop):
        from crm.staff.models import Role, Staff

        return db.session.scalars(db.select(Staff).where(Staff.shop_id == shop.id, Staff.role == Role.OWNER)).one()

    customer_id, staff_email, owner_name = line_app.run(seed)
    return dict(customer_id=customer_id, staff_email=staff_email, owner_name=owner_name, user_id=user["user_id"])


def _contexts(browser, line_app):
    phone_context = browser.new_context(viewport={"width": 375, "height": 800}, locale="ja-JP")
    app_context = browser.new_context(base_url=line_app.url, locale="ja-JP", timezone_id="Asia/Tokyo")
    for context in (phone_context, app_context):
        context.set_default_timeout(TIMEOUT_MS)
    return phone_context, app_context


def _texts(line_sandbox, channel_id):
    return [m.get("text") for s in line_sandbox.sent(channel_id) for m in s["messages"]]


def test_a_draft_needing_approval_is_approved_and_arrives_from_its_author(browser, line_app, line_sandbox, salon):
    phone_context, app_context = _contexts(browser, line_app)
    staff_context = browser.new_context(base_url=line_app.url, locale="ja-JP", timezone_id="Asia/Tokyo")
    staff_context.set_default_timeout(TIMEOUT_MS)
    try:
        phone = phone_context.new_page()
        phone.goto(f"{line_sandbox.url}/phone/{line_app.channel_id}/{salon['user_id']}")

        staff = staff_context.new_page()
        sign_in(staff, salon["staff_email"])
        staff.goto(f"/customers/{salon['customer_id']}/line")
        expect(staff.get_by_role("button", name="送信", exact=True)).to_have_count(0)
        staff.get_by_label("メッセージ").fill("山田様、明日は10時にお待ちしております。")
        staff.get_by_role("button", name="下書き保存").click()
        expect(staff.get_by_text("下書きを保存しました。")).to_be_visible()
        # The draft lives on the server: a reload shows it.
        staff.reload()
        draft_box = staff.get_by_label("下書きの本文")
        expect(draft_box).to_have_value("山田様、明日は10時にお待ちしております。")
        draft_box.fill("山田様、明日は10時にお待ちしております。お気をつけてお越しください。")
        staff.locator("#drafts-panel").get_by_role("button", name="承認を依頼").click()
        expect(staff.get_by_text("承認を依頼しました。")).to_be_visible()
        expect(staff.locator("#drafts-panel .draft-status")).to_have_text("承認待ち")
        assert _texts(line_sandbox, line_app.channel_id) == []

        owner = app_context.new_page()
        sign_in(owner, line_app.owner_email)
        owner.goto("/line/approvals")
        item = owner.locator(".approval")
        expect(item).to_contain_text("見習い 翼")
        expect(item).to_contain_text("山田 花子")
        item.get_by_role("button", name="承認して送信").click()
        expect(owner.get_by_text("承認して送信しました。")).to_be_visible()
        expect(owner.get_by_text("承認待ちのメッセージはありません。")).to_be_visible()

        expect(phone.locator(".row--bot .bubble", has_text="お気をつけてお越しください。")).to_be_visible()
        owner.goto(f"/customers/{salon['customer_id']}/line")
        message = owner.locator(".msg-out", has_text="お気をつけてお越しください。")
        expect(message.locator(".msg-sender")).to_have_text("見習い 翼")
        expect(message).to_contain_text(f"承認: {salon['owner_name']}")
        for _ in range(20):
            if message.locator(".status-sent").count():
                break
            owner.wait_for_timeout(250)
            owner.reload()
        expect(message.locator(".status-sent")).to_have_text("送信済み")
    finally:
        phone_context.close()
        app_context.close()
        staff_context.close()


def _next_minute_at_least(seconds):
    """The first whole minute (Tokyo) at least `seconds` from now."""
    now = datetime.now(timezone.utc)
    target = (now + timedelta(seconds=seconds)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    if target - now > timedelta(seconds=seconds + 60):
        target -= timedelta(minutes=1)
    return target


def _schedule(page, text, when_local):
    page.get_by_label("メッセージ").fill(text)
    box = page.locator(".composer details.schedule-box")
    if not box.evaluate("el => el.open"):
        box.locator("summary").click()
    box.get_by_label("日付").fill(when_local.date().isoformat())
    box.get_by_label("時刻").fill(when_local.strftime("%H:%M"))
    box.get_by_role("button", name="予約する").click()
    night = times.in_quiet_hours(when_local, "Asia/Tokyo")
    if night:  # 22:00-8:00: the warning, then a confirmed second press
        expect(page.get_by_text("夜間（22:00〜8:00）に送信されます。", exact=False)).to_be_visible()
        box = page.locator(".composer details.schedule-box")
        expect(box.locator("input[name=confirm_quiet]")).to_be_checked()
        box.get_by_role("button", name="予約する").click()
    expect(page.get_by_text("に送信予約しました。", exact=False)).to_be_visible()


def test_a_message_scheduled_a_minute_ahead_arrives_then_and_a_cancelled_one_never(browser, line_app, line_sandbox, salon):
    phone_context, app_context = _contexts(browser, line_app)
    ticker = None
    try:
        phone = phone_context.new_page()
        phone.goto(f"{line_sandbox.url}/phone/{line_app.channel_id}/{salon['user_id']}")
        owner = app_context.new_page()
        owner.on("dialog", lambda dialog: dialog.accept())
        sign_in(owner, line_app.owner_email)
        owner.goto(f"/customers/{salon['customer_id']}/line")

        due = _next_minute_at_least(50)
        local = due.astimezone(TOKYO)
        _schedule(owner, "1分後にお届けする予約メッセージです", local)
        _schedule(owner, "取り消される予約メッセージです", local)
        scheduled = owner.locator(".msg-out", has_text="1分後にお届けする予約メッセージです")
        expect(scheduled.locator(".status-scheduled")).to_have_text("送信予約")
        cancelled = owner.locator(".msg-out", has_text="取り消される予約メッセージです")
        cancelled.get_by_role("button", name="予約を取り消す").click()
        expect(owner.get_by_text("送信予約を取り消しました。")).to_be_visible()
        expect(owner.locator(".msg-out", has_text="取り消される予約メッセージです").locator(".status-cancelled")).to_be_visible()
        owner.goto("/line/scheduled")
        expect(owner.locator(".scheduled-item")).to_have_count(1)
        expect(owner.locator(".scheduled-item")).to_contain_text(local.strftime("%Y/%m/%d %H:%M"))

        # The embedded default's ticker (jobs in threads): every second here.
        ticker = in_process.start_ticker(line_app.app, interval=1)
        while datetime.now(timezone.utc) < due - timedelta(seconds=1.5):
            assert _texts(line_sandbox, line_app.channel_id) == [], "sent before its time"
            owner.wait_for_timeout(500)
        expect(phone.locator(".row--bot .bubble", has_text="1分後にお届けする予約メッセージです")).to_be_visible(timeout=15_000)
        arrived = datetime.now(timezone.utc)
        assert arrived >= due
        sent = line_sandbox.sent(line_app.channel_id)
        assert len(sent) == 1 and datetime.fromisoformat(sent[0]["sent_at"].replace("Z", "+00:00")) >= due
        owner.wait_for_timeout(3000)  # more ticks: the cancelled one stays unsent
        assert _texts(line_sandbox, line_app.channel_id) == ["1分後にお届けする予約メッセージです"]
        expect(phone.locator(".row--bot .bubble", has_text="取り消される予約メッセージです")).to_have_count(0)

        owner.goto(f"/customers/{salon['customer_id']}/line")
        expect(owner.locator(".msg-out", has_text="1分後にお届けする").locator(".status-sent")).to_have_text("送信済み")
    finally:
        if ticker is not None:
            ticker.stop()
        phone_context.close()
        app_context.close()
