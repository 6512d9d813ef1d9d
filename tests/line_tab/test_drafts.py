"""下書き保存 and approval: server-side drafts, version checks, 承認待ち, approve and send/schedule, 差し戻し."""
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from crm.conversations.models import SendStatus
from crm.database import utcnow
from crm.extensions import db as _db
from crm.line_tab import drafts
from crm.line_tab.drafts import DraftConflict, DraftError
from crm.line_tab.models import DraftStatus, LineDraft
from crm.staff.models import LineSendMode
from tests.factories import make_shop, make_staff
from tests.line_tab.helpers import htmx_post, linked, outgoing, sent_texts, tab

DAY = (utcnow().astimezone(ZoneInfo("Asia/Tokyo")) + timedelta(days=30)).date()
CONFLICT = "ほかの人がこの下書きを更新しました。最新の内容を確認してください。"


@pytest.fixture
def people(line_shop):
    """(customer, friend, user, staff who needs approval, owner)."""
    customer, friend, user = linked(line_shop)
    staff = make_staff(line_shop.shop, line_send_mode=LineSendMode.APPROVAL, name="見習い 花子")
    return customer, friend, user, staff, line_shop.owner


# -- services ------------------------------------------------------------------------------------
def test_one_open_draft_per_customer_and_author_with_a_version(people):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "明日のご予約の件です")
    assert (draft.version, draft.status, draft.author_id) == (1, DraftStatus.DRAFT, staff.id)
    again = drafts.save_draft(friend, staff, "明日のご予約の件です。", expected_version=1)
    assert again.id == draft.id and again.version == 2 and again.text == "明日のご予約の件です。"
    other = drafts.save_draft(friend, owner, "オーナーの下書き")
    assert other.id != draft.id
    assert [d.id for d in drafts.drafts_for_friend(friend)] == [draft.id, other.id]


def test_a_stale_save_raises_a_conflict_and_changes_nothing(people):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "v1")
    drafts.update_draft(draft, owner, "オーナーが直した", expected_version=1)  # the owner, on another device
    with pytest.raises(DraftConflict) as excinfo:
        drafts.update_draft(draft, staff, "スタッフの古い編集", expected_version=1)
    assert str(excinfo.value) == CONFLICT
    _db.session.refresh(draft)
    assert (draft.text, draft.version) == ("オーナーが直した", 2)


def test_a_second_device_creating_the_same_draft_conflicts(people):
    customer, friend, user, staff, owner = people
    drafts.save_draft(friend, staff, "一台目")
    with pytest.raises(DraftConflict):
        drafts.save_draft(friend, staff, "二台目", expected_version=0)  # it did not know about the first


def test_request_approval_then_the_owner_approves_and_sends_from_the_author(people, line_shop):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "ご来店ありがとうございました", request_approval=True)
    assert draft.status == DraftStatus.PENDING and draft.requested_at is not None
    assert drafts.pending_approval_count(line_shop.shop.id) == 1
    assert [d.id for d in drafts.pending_approvals(line_shop.shop.id)] == [draft.id]
    message = drafts.approve(draft, owner, draft.version)
    from crm import jobs

    jobs.commit()
    (row,) = outgoing()
    assert row.id == message.id and row.status == SendStatus.SENT
    assert (row.sender_id, row.approved_by_id, row.client_key) == (staff.id, owner.id, f"draft-{draft.id}")
    assert sent_texts(line_shop) == ["ご来店ありがとうございました"]
    _db.session.refresh(draft)
    assert draft.status == DraftStatus.APPROVED and draft.open_slot is None and draft.message_id == row.id
    assert drafts.pending_approval_count(line_shop.shop.id) == 0
    # The author can start a new draft for the same customer.
    assert drafts.save_draft(friend, staff, "次の下書き").id != draft.id


def test_only_the_owner_approves_or_returns(people):
    customer, friend, user, staff, owner = people
    direct = make_staff(owner.shop, line_send_mode=LineSendMode.DIRECT)
    draft = drafts.save_draft(friend, staff, "x", request_approval=True)
    for who in (staff, direct):
        with pytest.raises(DraftError):
            drafts.approve(draft, who, draft.version)
        with pytest.raises(DraftError):
            drafts.return_draft(draft, who, draft.version, "だめ")
    with pytest.raises(DraftError):
        drafts.update_draft(draft, direct, "他人の下書き", draft.version)


def test_return_with_a_comment_then_the_author_edits_and_asks_again(people):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "料金は5000円です", request_approval=True)
    with pytest.raises(DraftError):
        drafts.return_draft(draft, owner, draft.version, "  ")
    drafts.return_draft(draft, owner, draft.version, "税込の金額を書いてください")
    assert draft.status == DraftStatus.RETURNED and draft.review_comment == "税込の金額を書いてください"
    assert draft.reviewer_id == owner.id
    drafts.update_draft(draft, staff, "料金は5500円（税込）です", draft.version, request_approval=True)
    assert draft.status == DraftStatus.PENDING and draft.text == "料金は5500円（税込）です"


def test_approving_a_stale_version_conflicts(people):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "v1", request_approval=True)
    seen = draft.version
    drafts.update_draft(draft, staff, "v2 (after the owner opened the list)", seen)
    with pytest.raises(DraftConflict):
        drafts.approve(draft, owner, seen)
    assert outgoing() == []


def test_approve_and_schedule_keeps_author_and_approver(people):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "来週のご案内", request_approval=True)
    due = utcnow() + timedelta(hours=2)
    message = drafts.approve(draft, owner, draft.version, scheduled_at=due)
    assert message.status == SendStatus.SCHEDULED and message.scheduled_at == due
    assert (message.sender_id, message.approved_by_id) == (staff.id, owner.id)


def test_drafts_are_per_shop(people):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "x", request_approval=True)
    other_shop, other_owner = make_shop()
    assert drafts.get_draft(other_shop.id, draft.id) is None
    assert drafts.pending_approval_count(other_shop.id) == 0


# -- views -------------------------------------------------------------------------------------------
def test_staff_needing_approval_save_a_draft_from_the_composer_and_ask(client, auth, people, line_shop):
    customer, friend, user, staff, owner = people
    auth.login(staff)
    html = tab(client, customer)
    assert "下書き保存" in html and "承認を依頼" in html and 'name="draft_version" value="0"' in html
    assert "予約する" not in html  # no scheduling for them
    response = htmx_post(client, f"/customers/{customer.id}/line/drafts",
                         {"text": "明日は10時からです", "client_key": "k1", "draft_version": "0", "action": "save"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "下書きを保存しました。" in html and "明日は10時からです" in html and 'id="drafts-panel"' in html
    draft = drafts.open_draft(friend, staff.id)
    assert draft.text == "明日は10時からです"
    # The draft survives a reload and another device: it is on the server.
    assert "明日は10時からです" in tab(client, customer)
    response = htmx_post(client, f"/line/drafts/{draft.id}",
                         {"text": "明日は10時からお待ちしております", "version": draft.version, "action": "request"})
    assert response.status_code == 200 and "承認を依頼しました。" in response.get_data(as_text=True)
    _db.session.refresh(draft)
    assert draft.status == DraftStatus.PENDING
    assert outgoing() == []
    # Visible to the shop's other staff.
    colleague = make_staff(line_shop.shop, line_send_mode=LineSendMode.DIRECT)
    auth.logout()
    auth.login(colleague)
    html = tab(client, customer)
    assert "明日は10時からお待ちしております" in html and staff.name in html and "承認待ち" in html


def test_staff_needing_approval_get_403_from_send_and_schedule(client, auth, people):
    customer, friend, user, staff, owner = people
    auth.login(staff)
    token = client.csrf_token()
    for url in (f"/customers/{customer.id}/line/messages", f"/customers/{customer.id}/line/schedule"):
        response = client.post(url, data={"csrf_token": token, "text": "勝手に", "date": "2030-01-01", "time": "10:00"})
        assert response.status_code == 403, url
    draft = drafts.save_draft(friend, staff, "x", request_approval=True)
    _db.session.flush()
    for url in (f"/line/drafts/{draft.id}/approve", f"/line/drafts/{draft.id}/return"):
        response = client.post(url, data={"csrf_token": token, "version": draft.version, "comment": "c"})
        assert response.status_code == 403, url
    assert client.get("/line/approvals").status_code == 403
    assert outgoing() == []


def test_two_people_editing_the_same_draft_get_a_clear_message(client, auth, people):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "最初の文", request_approval=True)
    _db.session.flush()
    auth.login(owner)
    stale = draft.version
    drafts.update_draft(draft, staff, "スタッフが直した文", stale)
    response = htmx_post(client, f"/line/drafts/{draft.id}", {"text": "オーナーが直した文", "version": stale})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert CONFLICT in html
    assert "スタッフが直した文" in html and "オーナーが直した文" in html  # the latest, and what they typed
    _db.session.refresh(draft)
    assert draft.text == "スタッフが直した文"


def test_owner_approves_from_the_list_and_the_phone_receives_it_from_the_author(client, auth, people, line_shop):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "本日はありがとうございました", request_approval=True)
    _db.session.flush()
    auth.login(owner)
    html = client.get("/line/approvals").get_data(as_text=True)
    assert "本日はありがとうございました" in html and staff.name in html and customer.full_name in html
    response = client.post_form(f"/line/drafts/{draft.id}/approve",
                                {"text": "本日はありがとうございました！", "version": draft.version, "mode": "send",
                                 "next": "approvals"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/line/approvals")
    assert sent_texts(line_shop) == ["本日はありがとうございました！"]
    (message,) = outgoing()
    assert (message.sender_id, message.approved_by_id, message.status) == (staff.id, owner.id, SendStatus.SENT)
    html = tab(client, customer)
    assert staff.name in html and f"承認: {owner.name}" in html
    assert "承認待ちのメッセージはありません。" in client.get("/line/approvals").get_data(as_text=True)
    # A second press (double click, back button) sends nothing more.
    response = client.post_form(f"/line/drafts/{draft.id}/approve", {"version": draft.version, "mode": "send"})
    assert response.status_code == 302
    assert sent_texts(line_shop) == ["本日はありがとうございました！"]


def test_owner_returns_with_a_comment_the_author_sees_it(client, auth, people):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "料金は5000円", request_approval=True)
    _db.session.flush()
    auth.login(owner)
    response = client.post_form(f"/line/drafts/{draft.id}/return",
                                {"version": draft.version, "comment": "税込で書いてください", "next": "approvals"})
    assert response.status_code == 302
    auth.logout()
    auth.login(staff)
    html = tab(client, customer)
    assert "差し戻し" in html and "税込で書いてください" in html and owner.name in html


def test_owner_approves_and_schedules(client, auth, people, line_shop):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "来月のキャンペーン", request_approval=True)
    _db.session.flush()
    auth.login(owner)
    response = client.post_form(f"/line/drafts/{draft.id}/approve",
                                {"version": draft.version, "mode": "schedule", "date": DAY.isoformat(), "time": "10:00",
                                 "next": "approvals"})
    assert response.status_code == 302
    (message,) = outgoing()
    assert message.status == SendStatus.SCHEDULED
    assert message.scheduled_at.isoformat() == f"{DAY.isoformat()}T01:00:00+00:00"  # 10:00 in Asia/Tokyo
    assert (message.sender_id, message.approved_by_id) == (staff.id, owner.id)
    assert sent_texts(line_shop) == []


def test_a_direct_sender_sends_their_own_draft(client, auth, line_shop):
    customer, friend, user = linked(line_shop)
    direct = make_staff(line_shop.shop, line_send_mode=LineSendMode.DIRECT)
    auth.login(direct)
    response = htmx_post(client, f"/customers/{customer.id}/line/drafts", {"text": "後で送る", "draft_version": "0"})
    assert response.status_code == 200
    draft = drafts.open_draft(friend, direct.id)
    response = htmx_post(client, f"/line/drafts/{draft.id}/approve", {"version": draft.version, "mode": "send"})
    assert response.status_code == 200
    (message,) = outgoing()
    assert (message.sender_id, message.approved_by_id) == (direct.id, None)
    assert sent_texts(line_shop) == ["後で送る"]


def test_deleting_a_draft_needs_the_current_version(client, auth, people):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "消す")
    _db.session.flush()
    auth.login(staff)
    assert htmx_post(client, f"/line/drafts/{draft.id}/delete", {"version": draft.version + 1}).status_code == 409
    assert htmx_post(client, f"/line/drafts/{draft.id}/delete", {"version": draft.version}).status_code == 200
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(LineDraft)) == 0


def test_another_shops_draft_is_404(client, auth, people):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "x", request_approval=True)
    _db.session.flush()
    other_shop, other_owner = make_shop()
    auth.login(other_owner)
    assert client.post_form(f"/line/drafts/{draft.id}/approve", {"version": draft.version}).status_code == 404
    assert "承認待ちのメッセージはありません。" in client.get("/line/approvals").get_data(as_text=True)


def test_staff_editing_an_approved_schedule_send_it_back_to_approval(client, auth, people, line_shop):
    customer, friend, user, staff, owner = people
    direct = make_staff(line_shop.shop, line_send_mode=LineSendMode.DIRECT, name="直接 送信")
    draft = drafts.save_draft(friend, staff, "来週のご案内", request_approval=True)
    message = drafts.approve(draft, owner, draft.version, scheduled_at=utcnow() + timedelta(hours=2))
    _db.session.flush()
    auth.login(direct)
    response = htmx_post(client, f"/line/scheduled/{message.id}/edit",
                         {"text": "書き換えた案内", "date": DAY.isoformat(), "time": "11:30"})
    assert response.status_code == 200
    _db.session.expire_all()
    assert _db.session.get(type(message), message.id).status == SendStatus.CANCELLED  # never sent as approved
    reopened = _db.session.get(LineDraft, draft.id)
    assert (reopened.status, reopened.text) == (DraftStatus.PENDING, "書き換えた案内")
    assert (reopened.author_id, reopened.updated_by_id) == (direct.id, direct.id)  # the editor is recorded
    assert drafts.pending_approval_count(line_shop.shop.id) == 1
    assert sent_texts(line_shop) == []


def test_the_approver_editing_their_approved_schedule_keeps_it(client, auth, people, line_shop):
    customer, friend, user, staff, owner = people
    draft = drafts.save_draft(friend, staff, "来週のご案内", request_approval=True)
    message = drafts.approve(draft, owner, draft.version, scheduled_at=utcnow() + timedelta(hours=2))
    _db.session.flush()
    auth.login(owner)
    htmx_post(client, f"/line/scheduled/{message.id}/edit", {"text": "オーナーが直した", "date": DAY.isoformat(), "time": "11:30"})
    _db.session.expire_all()
    kept = _db.session.get(type(message), message.id)
    assert (kept.status, kept.text, kept.approved_by_id) == (SendStatus.SCHEDULED, "オーナーが直した", owner.id)
