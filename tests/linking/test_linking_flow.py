"""The rich-menu path: 予約を確認する → the card → the form → linked, and the owner's tools."""
import re
import time

import pytest
import sqlalchemy as sa

from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.extensions import db as _db
from crm.linking import tokens
from crm.linking.models import LinkRequest, RequestStatus, SpentLinkToken
from tests.factories import make_customer, make_friend, make_staff

CHECK = {"type": "postback", "data": "action=check_bookings", "display_text": "予約を確認する"}


def _friend_taps_check_bookings(client, line_shop, display_name="はなこ"):
    """A sandbox user follows and taps 予約を確認する; returns (user, friend, the bot's answer)."""
    cid = line_shop.sandbox_channel["channel_id"]
    user = line_shop.sandbox.add_user(display_name=display_name)
    for spec in ({"type": "follow"}, CHECK):
        event = line_shop.sandbox.send(cid, user["user_id"], spec)["event"]
        assert line_shop.post_events(client, [event]).status_code == 200
    friend = _db.session.scalars(sa.select(LineFriend).where(LineFriend.line_user_id == user["user_id"])).one()
    return user, friend, line_shop.sandbox.sent(cid)[-1]


def _link_path(answer):
    uri = answer["messages"][0]["contents"]["footer"]["contents"][0]["action"]["uri"]
    return re.sub(r"^https?://[^/]+", "", uri)


def test_unlinked_friend_gets_the_card_by_reply_and_links_with_the_form(client, line_shop):
    line_shop.shop.link_automatically = True  # the owner chose 自動: the form links at once
    _db.session.commit()
    hanako = make_customer(line_shop.shop, family_name="山田", given_name="花子", family_name_kana="ヤマダ",
                           given_name_kana="ハナコ", phone="090-1234-5678")
    user, friend, answer = _friend_taps_check_bookings(client, line_shop)
    assert answer["via"] == "reply"  # free: the postback's reply token
    card = answer["messages"][0]
    assert card["type"] == "flex" and card["altText"] == "顧客情報の連携"
    assert card["contents"]["footer"]["contents"][0]["action"]["label"] == "顧客情報を連携する"

    path = _link_path(answer)
    page = client.get(path)
    assert page.status_code == 200 and "顧客情報の連携" in page.get_data(as_text=True)
    done = client.post_form(path, {"family_name": "やまだ", "given_name": "はなこ", "phone": "０９０ー１２３４ー５６７８"})
    assert done.status_code == 200 and 'data-outcome="linked"' in done.get_data(as_text=True)
    _db.session.refresh(friend)
    assert friend.customer_id == hanako.id
    confirmation = line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])[-1]
    assert confirmation["to"] == user["user_id"] and "連携が完了しました" in confirmation["messages"][0]["text"]


def test_linked_friend_gets_upcoming_bookings_instead(client, line_shop):
    customer = make_customer(line_shop.shop)
    cid = line_shop.sandbox_channel["channel_id"]
    user = line_shop.sandbox.add_user(display_name="たろう")
    make_friend(line_shop.shop, customer=customer, line_user_id=user["user_id"])
    event = line_shop.sandbox.send(cid, user["user_id"], CHECK)["event"]
    line_shop.post_events(client, [event])
    answer = line_shop.sandbox.sent(cid)[-1]
    assert answer["messages"][0]["type"] == "text"
    assert "ご予約" in answer["messages"][0]["text"]


def test_name_mismatch_goes_to_the_owner_and_the_customer_is_told(client, auth, line_shop):
    hanako = make_customer(line_shop.shop, family_name="山田", given_name="花子", phone="090-1234-5678")
    user, friend, answer = _friend_taps_check_bookings(client, line_shop)
    done = client.post_form(_link_path(answer), {"family_name": "田中", "given_name": "花子", "phone": "090-1234-5678"})
    assert 'data-outcome="pending"' in done.get_data(as_text=True)
    assert "確認" in line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])[-1]["messages"][0]["text"]
    _db.session.refresh(friend)
    assert friend.customer_id is None

    auth.login(line_shop.owner)
    listing = client.get("/line/friends/unlinked").get_data(as_text=True)
    assert "確認待ちの連携依頼" in listing and "氏名が一致しません" in listing and "山田 花子 様と連携" in listing
    request = _db.session.scalars(sa.select(LinkRequest)).one()
    response = client.post_form(f"/link-requests/{request.id}/resolve", {"customer_id": str(hanako.id)})
    assert response.status_code == 302
    _db.session.refresh(friend)
    _db.session.refresh(request)
    assert friend.customer_id == hanako.id and request.status == RequestStatus.RESOLVED
    assert request.resolved_by_id == line_shop.owner.id


def test_owner_can_resolve_a_request_with_a_new_customer(client, auth, line_shop):
    make_customer(line_shop.shop, family_name="山田", given_name="花子", phone="090-1234-5678")
    user, friend, answer = _friend_taps_check_bookings(client, line_shop)
    client.post_form(_link_path(answer), {"family_name": "田中", "given_name": "花子", "phone": "090-1234-5678"})
    auth.login(line_shop.owner)
    request = _db.session.scalars(sa.select(LinkRequest)).one()
    client.post_form(f"/link-requests/{request.id}/resolve", {"customer_id": "new"})
    _db.session.refresh(friend)
    new = _db.session.get(Customer, friend.customer_id)
    assert new.name_norm == "田中花子"


@pytest.mark.parametrize("case", ["forged", "tampered", "expired", "reused"])
def test_bad_link_tokens_link_nothing(client, line_shop, app, monkeypatch, case):
    make_customer(line_shop.shop, family_name="山田", given_name="花子", phone="090-1234-5678")
    user, friend, answer = _friend_taps_check_bookings(client, line_shop)
    path = _link_path(answer)
    token = path.rsplit("/", 1)[1]
    data = {"family_name": "山田", "given_name": "花子", "phone": "090-1234-5678"}
    if case == "forged":
        from itsdangerous import URLSafeTimedSerializer

        forged = URLSafeTimedSerializer("not-the-key", salt=tokens.SALT).dumps({"s": friend.shop_id, "f": friend.id, "j": "x"})
        path = f"/link/{forged}"
    elif case == "tampered":
        path = f"/link/{token[:-3]}{'AAA' if not token.endswith('AAA') else 'BBB'}"
    elif case == "expired":
        monkeypatch.setitem(app.config, "LINK_TOKEN_MAX_AGE", 1)
        time.sleep(2.1)
    elif case == "reused":
        assert 'data-outcome="pending"' in client.post_form(path, data).get_data(as_text=True)
        # Even after the owner answers the request, the old link stays spent.
        _db.session.execute(sa.update(LinkRequest).values(status=RequestStatus.RESOLVED))
        _db.session.flush()
    response = client.post_form(path, data)
    assert response.status_code in (400, 410)
    _db.session.refresh(friend)
    assert friend.customer_id is None
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(SpentLinkToken)) == (1 if case == "reused" else 0)


def test_link_form_errors_are_per_field(client, line_shop):
    user, friend, answer = _friend_taps_check_bookings(client, line_shop)
    response = client.post_form(_link_path(answer), {"family_name": "", "given_name": "花子", "phone": "12"})
    html = response.get_data(as_text=True)
    assert "姓を入力してください。" in html and "電話番号として正しくありません" in html
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(SpentLinkToken)) == 0  # still usable


def test_link_form_submissions_are_rate_limited(client, line_shop, app, monkeypatch):
    monkeypatch.setitem(app.config, "LINK_FORM_RATE_LIMIT", "3/hour")
    user, friend, answer = _friend_taps_check_bookings(client, line_shop)
    path = _link_path(answer)
    for _ in range(3):
        assert client.post_form(path, {"family_name": "", "given_name": "", "phone": ""}).status_code == 200
    assert client.post_form(path, {"family_name": "山田", "given_name": "花子", "phone": "090-1234-5678"}).status_code == 429


def test_owner_links_a_friend_to_an_existing_customer_and_undoes_it(client, auth, line_shop):
    customer = make_customer(line_shop.shop, family_name="鈴木", phone="080-1111-2222")
    friend = make_friend(line_shop.shop, display_name="すずき")
    auth.login(line_shop.owner)
    page = client.get(f"/line/friends/{friend.id}?q=鈴木").get_data(as_text=True)
    assert "この顧客と連携" in page
    assert client.post_form(f"/line/friends/{friend.id}/link", {"customer_id": str(customer.id)}).status_code == 302
    _db.session.refresh(friend)
    assert friend.customer_id == customer.id
    listing = client.get("/customers/").get_data(as_text=True)
    assert 'class="line-mark"' in listing
    info = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "すずき" in info and f"/customers/{customer.id}/line" in info

    assert client.post_form(f"/customers/{customer.id}/unlink").status_code == 302
    _db.session.refresh(friend)
    assert friend.customer_id is None
    assert "未連携" in client.get(f"/customers/{customer.id}").get_data(as_text=True)


def test_owner_creates_a_customer_for_a_friend(client, auth, line_shop):
    friend = make_friend(line_shop.shop, display_name="Mika")
    auth.login(line_shop.owner)
    response = client.post_form(f"/line/friends/{friend.id}/customer",
                                {"family_name": "高橋", "given_name": "美香", "phone": "070-3333-4444"})
    assert response.status_code == 302
    _db.session.refresh(friend)
    customer = _db.session.get(Customer, friend.customer_id)
    assert customer.name_norm == "高橋美香" and customer.phone_e164 == "+817033334444"


def test_one_customer_cannot_take_a_second_friend(client, auth, line_shop):
    customer = make_customer(line_shop.shop)
    make_friend(line_shop.shop, customer=customer)
    other = make_friend(line_shop.shop, display_name="別の人")
    auth.login(line_shop.owner)
    client.post_form(f"/line/friends/{other.id}/link", {"customer_id": str(customer.id)})
    _db.session.refresh(other)
    assert other.customer_id is None


def test_merge_moves_the_line_link_and_fills_blanks(client, auth, line_shop):
    keep = make_customer(line_shop.shop, family_name="山田", given_name="花子", phone="090-1234-5678", memo="本票")
    dup = make_customer(line_shop.shop, family_name="山田", given_name="花子", phone=None, memo="重複",
                        email="hanako@example.com")
    friend = make_friend(line_shop.shop, customer=dup)
    keep_id, dup_id = keep.id, dup.id
    auth.login(line_shop.owner)
    page = client.get(f"/customers/{keep_id}/merge?q=山田").get_data(as_text=True)
    assert "この顧客を統合" in page
    assert client.post_form(f"/customers/{keep_id}/merge", {"other_id": str(dup_id)}).status_code == 302
    _db.session.expunge_all()
    assert _db.session.get(Customer, dup_id) is None
    keep = _db.session.get(Customer, keep_id)
    assert keep.email == "hanako@example.com" and keep.memo == "本票\n重複"
    assert _db.session.get(LineFriend, friend.id).customer_id == keep.id


def test_merge_refuses_two_linked_records(client, auth, line_shop):
    a = make_customer(line_shop.shop, family_name="A")
    b = make_customer(line_shop.shop, family_name="B")
    make_friend(line_shop.shop, customer=a)
    make_friend(line_shop.shop, customer=b)
    auth.login(line_shop.owner)
    client.post_form(f"/customers/{a.id}/merge", {"other_id": str(b.id)})
    assert _db.session.get(Customer, b.id) is not None


def test_staff_cannot_use_the_owner_linking_tools(client, auth, line_shop):
    customer = make_customer(line_shop.shop)
    friend = make_friend(line_shop.shop)
    auth.login(make_staff(line_shop.shop))
    client.post_form(f"/line/friends/{friend.id}/link", {"customer_id": str(customer.id)})
    _db.session.refresh(friend)
    assert friend.customer_id is None


def test_owner_installs_the_rich_menu(client, auth, line_shop):
    auth.login(line_shop.owner)
    response = client.post_form("/settings/line/rich-menu")
    assert response.status_code == 302
    _db.session.refresh(line_shop.channel)
    assert line_shop.channel.rich_menu_id
    log = line_shop.sandbox.requests(line_shop.sandbox_channel["channel_id"])
    paths = [(r["method"], r["path"], r["status"]) for r in log]
    assert ("POST", "/v2/bot/richmenu", 200) in paths
    assert ("POST", f"/v2/bot/richmenu/{line_shop.channel.rich_menu_id}/content", 200) in paths
    assert ("POST", f"/v2/bot/user/all/richmenu/{line_shop.channel.rich_menu_id}", 200) in paths
