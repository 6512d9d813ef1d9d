"""一斉配信 in Chromium against the LINE sandbox: the segment editor's live count, a staff broadcast approved by
the owner, the quota refusal, and the progress page of a running broadcast."""
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from crm.bookings.models import Service
from crm.database import utcnow
from crm.extensions import db
from crm.shops.models import Shop
from crm.staff.models import LineSendMode, Role, Staff
from tests import factories
from tests.broadcasts.helpers import booking, tag
from tests.browser.conftest import TIMEOUT_MS, htmx_settled, sign_in

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Person:
    name: str
    user_id: str | None  # the sandbox user of the customer's LINE friend (None: not linked)


@dataclass(frozen=True)
class Salon:
    """The seeded ledger (days are the last visit's age; visits are weeks away from the 60-day line)."""

    aoki: Person  # VIP, friend, last visit 90 days ago
    ishii: Person  # VIP, friend, last visit 10 days ago
    ueda: Person  # VIP, blocked the account, last visit 120 days ago
    eto: Person  # VIP, not linked to LINE, last visit 200 days ago
    ono: Person  # no tag, friend, last visit 100 days ago
    staff_email: str
    staff_name: str
    owner_name: str


@pytest.fixture
def salon(line_app, line_sandbox):
    seeded = {}
    rows = (("aoki", "青木", "美咲", True, "friend", 90), ("ishii", "石井", "綾", True, "friend", 10),
            ("ueda", "上田", "翔", True, "blocked", 120), ("eto", "江藤", "光", True, None, 200),
            ("ono", "大野", "蓮", False, "friend", 100))
    users = {}
    for key, family, given, _vip, friendship, _days in rows:
        if friendship:
            user = line_sandbox.add_user(display_name=f"{family}{given}")
            line_sandbox.set_friendship(line_app.channel_id, user["user_id"], friendship)
            users[key] = user["user_id"]

    def seed():
        shop = db.session.get(Shop, line_app.shop_id)
        cut = db.session.scalars(sa.select(Service).where(Service.shop_id == shop.id, Service.name == "カット")).one()
        now = utcnow()
        for n, (key, family, given, vip, friendship, days) in enumerate(rows):
            customer = factories.make_customer(shop, family_name=family, given_name=given, phone=f"090-7000-{n:04d}")
            if vip:
                tag(shop, customer, "VIP")
            if friendship:
                factories.make_friend(shop, customer, display_name=f"{family}{given}", line_user_id=users[key],
                                      followed=friendship == "friend")
            booking(shop, customer, cut, now - timedelta(days=days))
            seeded[key] = Person(customer.full_name, users.get(key))
        staff = factories.make_staff(shop, line_send_mode=LineSendMode.APPROVAL, name="見習い 翼")
        owner = db.session.scalars(sa.select(Staff).where(Staff.shop_id == shop.id, Staff.role == Role.OWNER)).one()
        return staff.email, staff.name, owner.name

    staff_email, staff_name, owner_name = line_app.run(seed)
    return Salon(**seeded, staff_email=staff_email, staff_name=staff_name, owner_name=owner_name)


def _context(browser, line_app):
    context = browser.new_context(base_url=line_app.url, viewport={"width": 1280, "height": 900},
                                  locale="ja-JP", timezone_id="Asia/Tokyo")
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _count(page):
    return page.locator("#segment-count")


def _add_condition(page, group, kind_label, **choose):
    """Press ＋ 条件を追加 in the group, pick the kind, and its parameter (tag=..., days=...)."""
    conditions = page.locator(f"#segment-group-{group} .segment-condition")
    before = conditions.count()
    page.locator(f"#segment-group-{group}").get_by_role("button", name="＋ 条件を追加").click()
    expect(conditions).to_have_count(before + 1)
    htmx_settled(page)
    condition = conditions.nth(before)
    if kind_label != "タグが付いている":  # the kind a new condition starts with
        condition.get_by_label("条件").select_option(label=kind_label)  # the editor is drawn again for it
        htmx_settled(page)
    if "tag" in choose:
        condition.get_by_label("タグ").select_option(label=choose["tag"])
    if "days" in choose:
        condition.get_by_label("日数").fill(str(choose["days"]))
    return condition


def _open_composer(page):
    page.get_by_role("link", name="一斉配信", exact=True).click()
    page.get_by_role("link", name="新しい一斉配信").click()
    expect(page.get_by_role("heading", name="一斉配信の作成")).to_be_visible()
    page.wait_for_load_state()  # htmx has started (the editor's buttons work)


def test_segment_editing_with_a_live_count_and_saving_it(browser, line_app, salon):
    context = _context(browser, line_app)
    try:
        page = context.new_page()
        sign_in(page, line_app.owner_email)
        _open_composer(page)
        count = _count(page)
        # No condition: everyone linked, following and not 配信停止 (青木, 石井, 大野).
        expect(count.locator(".count-reachable")).to_have_text("配信対象 3人")

        _add_condition(page, 0, "タグが付いている", tag="VIP")
        expect(count.locator(".count-reachable")).to_have_text("配信対象 2人")  # 青木, 石井
        expect(count).to_contain_text("条件に合うお客様 4人")  # and 上田 (blocked), 江藤 (not linked)
        expect(count).to_contain_text("ブロック 1人")

        _add_condition(page, 0, "最終来店がN日以上前", days=60)
        expect(count.locator(".count-reachable")).to_have_text("配信対象 1人")  # 青木 only
        expect(count).to_contain_text("条件に合うお客様 3人")  # 青木, 上田, 江藤

        # Either condition (OR): every VIP, and 大野 who last came 100 days ago.
        page.get_by_label("条件の組み合わせ").select_option(label="いずれかの条件（OR）")
        expect(count.locator(".count-reachable")).to_have_text("配信対象 3人")
        expect(count).to_contain_text("条件に合うお客様 5人")
        page.get_by_label("条件の組み合わせ").select_option(label="すべての条件（AND）")
        expect(count.locator(".count-reachable")).to_have_text("配信対象 1人")

        # A second group, OR between the groups: 石井 came within 30 days.
        page.get_by_label("グループの組み合わせ").select_option(label="いずれかのグループに当てはまる（OR）")
        page.get_by_role("button", name="＋ グループを追加").click()
        expect(page.locator("#segment-group-1")).to_be_visible()
        htmx_settled(page)
        second = page.locator("#segment-group-1 .segment-condition").first
        second.get_by_label("条件").select_option(label="N日以内に来店あり")
        htmx_settled(page)
        second.get_by_label("日数").fill("30")
        expect(count.locator(".count-reachable")).to_have_text("配信対象 2人")  # 青木, 石井

        page.get_by_label("このセグメントを保存").fill("休眠VIPと最近の方")
        page.locator(".segment-save").get_by_role("button", name="保存").click()
        expect(page.locator("#segment-saved")).to_have_text("セグメント「休眠VIPと最近の方」を保存しました。")

        # Saved: a new composer starts from it, with the same count.
        page.reload()
        page.get_by_label("保存したセグメントから").select_option(label="休眠VIPと最近の方")
        expect(page.locator("#segment-group-1")).to_be_visible()
        expect(page.locator("#segment-group-0 .segment-condition")).to_have_count(2)
        expect(page.locator("#segment-group-1").get_by_label("日数")).to_have_value("30")
        expect(count.locator(".count-reachable")).to_have_text("配信対象 2人")
    finally:
        context.close()


def _sent(line_sandbox, channel_id):
    """(recipient, text) of every message the sandbox delivered."""
    return sorted((s["to"], m.get("text")) for s in line_sandbox.sent(channel_id) for m in s["messages"])


def test_a_staff_broadcast_is_approved_by_the_owner_then_delivered(browser, line_app, line_sandbox, salon):
    staff_context, owner_context = _context(browser, line_app), _context(browser, line_app)
    try:
        staff = staff_context.new_page()
        sign_in(staff, salon.staff_email)
        _open_composer(staff)
        staff.get_by_label("タイトル（お客様には表示されません）").fill("VIP様へ6月のご案内")
        _add_condition(staff, 0, "タグが付いている", tag="VIP")
        expect(_count(staff).locator(".count-reachable")).to_have_text("配信対象 2人")
        staff.get_by_label("本文", exact=True).fill("{お客様名}様、いつもありがとうございます。{店舗名}より6月のご案内です。")
        staff.get_by_role("button", name="プレビュー").click()
        preview = staff.locator("#preview")
        expect(preview).to_contain_text(f"{salon.aoki.name} 様に届く内容")  # the first customer of the segment
        expect(preview.locator(".msg-text")).to_have_text(
            f"{salon.aoki.name}様、いつもありがとうございます。E2Eサロンより6月のご案内です。")
        expect(staff.get_by_role("button", name="配信する")).to_have_count(0)  # staff cannot send
        staff.get_by_role("button", name="承認を依頼").click()
        expect(staff.get_by_text("承認を依頼しました。")).to_be_visible()
        expect(staff.locator("#broadcast-progress .status")).to_have_text("承認待ち")
        assert line_sandbox.sent(line_app.channel_id) == []

        owner = owner_context.new_page()
        sign_in(owner, line_app.owner_email)
        # The owner's nav says a staff broadcast waits (its badge is part of the link's name).
        nav = owner.locator("nav.topnav a", has_text="一斉配信")
        expect(nav.locator("#nav-badge-broadcasts")).to_contain_text("1")
        nav.click()
        row = owner.locator(".broadcast-table tr", has_text="VIP様へ6月のご案内")
        expect(row).to_contain_text("承認待ち")
        expect(row).to_contain_text(salon.staff_name)
        row.get_by_role("link", name="VIP様へ6月のご案内").click()
        owner.get_by_role("button", name="承認して配信").click()
        expect(owner.get_by_text("承認しました。")).to_be_visible()
        progress = owner.locator("#broadcast-progress")
        expect(progress.locator(".status")).to_have_text("配信完了")
        expect(progress.locator(".progress-counts")).to_have_text(
            "送信済み 2 ・ 失敗 0 ・ ブロック 1 ・ 未送信 0 / 全3人")
        expect(progress.locator("progress")).to_have_attribute("value", "3")
        expect(owner.locator(".broadcast-facts dt:text-is('承認') + dd")).to_have_text(salon.owner_name)

        # Exactly the segment's reachable customers, each with their own name; 上田 (blocked), 江藤 and 大野 got nothing.
        assert _sent(line_sandbox, line_app.channel_id) == sorted([
            (salon.aoki.user_id, f"{salon.aoki.name}様、いつもありがとうございます。E2Eサロンより6月のご案内です。"),
            (salon.ishii.user_id, f"{salon.ishii.name}様、いつもありがとうございます。E2Eサロンより6月のご案内です。"),
        ])
        staff.reload()
        expect(staff.locator("#broadcast-progress .status")).to_have_text("配信完了")
    finally:
        staff_context.close()
        owner_context.close()


def test_a_broadcast_over_the_quota_is_refused_saying_by_how_much(browser, line_app, line_sandbox, salon):
    line_sandbox.update_channel(line_app.channel_id, quota=1)
    context = _context(browser, line_app)
    try:
        page = context.new_page()
        sign_in(page, line_app.owner_email)
        _open_composer(page)
        expect(page.locator("#quota-box")).to_have_text("今月の配信上限 1通 ・ 使用済み 0通 ・ 残り 1通")
        count = _count(page)
        expect(count.locator(".count-reachable")).to_have_text("配信対象 3人")
        expect(count.locator(".quota-over")).to_have_text("今月の残りを2通超えています。")
        page.get_by_label("タイトル（お客様には表示されません）").fill("全員へのお知らせ")
        page.get_by_label("本文", exact=True).fill("臨時休業のお知らせです。")
        page.get_by_role("button", name="配信する").click()
        expect(page.locator("#compose-error")).to_have_text(
            "今月の配信上限を2通超えるため送信できません（上限 1通、使用済み 0通、この配信 3通）。")
        expect(page.get_by_label("本文", exact=True)).to_have_value("臨時休業のお知らせです。")  # kept to edit
        page.wait_for_load_state()  # the page drawn again: its scripts have run

        # Narrowed to one recipient, it fits.
        _add_condition(page, 0, "最終来店がN日以上前", days=60)
        _add_condition(page, 0, "タグが付いている", tag="VIP")
        expect(count.locator(".count-reachable")).to_have_text("配信対象 1人")
        expect(count.locator(".quota-over")).to_have_count(0)
        assert line_sandbox.sent(line_app.channel_id) == []
        page.get_by_role("link", name="一斉配信", exact=True).click()
        expect(page.get_by_text("まだ一斉配信はありません。")).to_be_visible()  # nothing was saved or sent
        assert line_sandbox.sent(line_app.channel_id) == []
    finally:
        context.close()


def test_the_progress_page_follows_a_running_broadcast_to_its_end(browser, line_app, line_sandbox, salon):
    line_app.app.config["BROADCAST_BATCH_SIZE"] = 1  # one multicast per recipient: progress in steps
    # The first multicast LINE receives answers 5 seconds late, the others at once; the client waits for it
    # (production's 10 s timeout, not the tests' 2 s, after which it would retry at once with the same key).
    line_app.app.config["LINE_API_TIMEOUT"] = 10
    line_sandbox.fault("/v2/bot/message/multicast", method="POST", delay_seconds=5, times=1)
    context = _context(browser, line_app)
    try:
        page = context.new_page()
        sign_in(page, line_app.owner_email)
        _open_composer(page)
        page.get_by_label("タイトル（お客様には表示されません）").fill("臨時休業")
        expect(_count(page).locator(".count-reachable")).to_have_text("配信対象 3人")
        page.get_by_label("本文", exact=True).fill("明日は臨時休業いたします。{店舗名}")
        page.get_by_role("button", name="配信する").click()
        expect(page.get_by_text("配信を開始しました。")).to_be_visible()
        progress = page.locator("#broadcast-progress")
        # While the late multicast is on its way: 配信中, two of three sent (上田 blocked), the bar part-way.
        expect(progress.locator(".status")).to_have_text("配信中")
        expect(progress.locator(".progress-counts")).to_have_text(
            "送信済み 2 ・ 失敗 0 ・ ブロック 1 ・ 未送信 1 / 全4人")
        expect(progress.locator("progress")).to_have_attribute("value", "3")
        # Then, on the same page (it polls), the end.
        expect(progress.locator(".status")).to_have_text("配信完了", timeout=15_000)
        expect(progress.locator(".progress-counts")).to_have_text(
            "送信済み 3 ・ 失敗 0 ・ ブロック 1 ・ 未送信 0 / 全4人")
        expect(progress.locator("progress")).to_have_attribute("value", "4")
        assert _sent(line_sandbox, line_app.channel_id) == sorted(
            (p.user_id, "明日は臨時休業いたします。E2Eサロン") for p in (salon.aoki, salon.ishii, salon.ono))
        multicasts = [r for r in line_sandbox.requests(line_app.channel_id) if r["path"] == "/v2/bot/message/multicast"]
        assert len(multicasts) == 3  # one call per batch, the late one included: nothing was retried
        page.get_by_role("link", name="← 一斉配信").click()
        row = page.locator(".broadcast-table tr", has_text="臨時休業")
        expect(row).to_contain_text("配信完了")
    finally:
        context.close()
