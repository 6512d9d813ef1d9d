"""The nav's count badges: 確認待ちの連携依頼 beside 未連携の友だち, 承認待ち beside its link; one cheap query."""
import re

from crm.broadcasts import services as broadcasts
from crm.broadcasts.models import BroadcastStatus
from crm.extensions import db as _db
from crm.line_tab import drafts
from crm.linking.models import LinkRequest, RequestReason
from crm.staff.models import LineSendMode
from tests.factories import make_customer, make_friend, make_staff


def _pending_request(shop, friend):
    _db.session.add(LinkRequest(shop_id=shop.id, friend_id=friend.id, family_name="鈴木", given_name="花",
                                phone="090-7777-1234", phone_e164="+819077771234", source="booking",
                                reason=RequestReason.NAME_MISMATCH, candidate_ids=[]))
    _db.session.flush()


def _badge(html, element_id):
    match = re.search(rf'<span id="{element_id}" hx-swap-oob="true">(.*?)</span>\s*$', html, re.M)
    assert match, html
    found = re.search(r'class="badge unread-badge"[^>]*>(\d+)<', match.group(1))
    return int(found.group(1)) if found else 0


def test_the_owner_sees_link_requests_and_approvals_counted(client, auth, shop, count_queries):
    salon, owner = shop
    for name in ("花", "蘭"):
        _pending_request(salon, make_friend(salon, display_name=name))
    apprentice = make_staff(salon, line_send_mode=LineSendMode.APPROVAL)
    friend = make_friend(salon, customer=make_customer(salon))
    drafts.save_draft(friend, apprentice, "ご予約ありがとうございます", request_approval=True)
    staff_broadcast = broadcasts.save(salon, apprentice, None, "年末のお知らせ", {"op": "and", "groups": []},
                                      "年末年始の営業のお知らせです", None)
    staff_broadcast.status = BroadcastStatus.PENDING  # what a staff member's 承認を依頼 leaves (tests/broadcasts)
    _db.session.commit()
    auth.login(owner)

    page = client.get("/customers/").get_data(as_text=True)
    assert 'hx-get="/nav/badges"' in page
    assert re.search(r'href="/line/friends/unlinked"[^>]*>未連携の友だち<span id="nav-badge-link-requests"></span>', page)
    assert re.search(r'href="/line/approvals"[^>]*>承認待ち<span id="nav-badge-approvals"></span>', page)
    assert re.search(r'href="/broadcasts/"[^>]*>一斉配信<span id="nav-badge-broadcasts"></span>', page)

    with count_queries() as statements:
        response = client.get("/nav/badges")
    html = response.get_data(as_text=True)
    assert (_badge(html, "nav-badge-link-requests"), _badge(html, "nav-badge-approvals"),
            _badge(html, "nav-badge-broadcasts")) == (2, 1, 1)
    counting = [s for s in statements if "link_requests" in s or "line_drafts" in s or "broadcasts" in s]
    assert len(counting) == 1  # the three counts in one statement
    assert len(statements) <= 4  # with the session's own (the signed-in staff member, the shop)


def test_staff_get_no_owner_badges(client, auth, shop):
    salon, owner = shop
    _pending_request(salon, make_friend(salon))
    member = make_staff(salon)
    _db.session.commit()
    auth.login(member)
    page = client.get("/customers/").get_data(as_text=True)
    assert 'hx-get="/nav/badges"' not in page and "/line/approvals" not in page
    html = client.get("/nav/badges").get_data(as_text=True)
    assert _badge(html, "nav-badge-link-requests") == 0
