"""要対応/対応済み, 担当者, 迷惑メッセージ and ブロック中 in the conversation header, the inbox and the yellow bar."""
from datetime import datetime, timezone

import sqlalchemy as sa

from crm.conversations.models import Direction, LineFriend, LineMessage
from crm.customers import tags as shop_tags
from crm.extensions import db as _db
from crm.staff.models import LineSendMode
from tests.factories import make_customer, make_friend, make_shop, make_staff
from tests.line_tab.test_conversation import _incoming, _linked

HX = {"HX-Request": "true"}


def _friend(friend_id):
    _db.session.expire_all()
    return _db.session.get(LineFriend, friend_id)


def _inbox(client, **args):
    return client.get("/line/inbox", query_string=args).get_data(as_text=True)


def test_a_message_needs_attention_and_a_reply_answers_it(client, auth, line_shop):
    customer, friend = _linked(line_shop, user_id=line_shop.sandbox.add_user(display_name="は")["user_id"])
    line_shop.sandbox.follow(line_shop.sandbox_channel["channel_id"], friend.line_user_id)
    auth.login(line_shop.owner)
    _incoming(client, line_shop, friend.line_user_id, 1, text="予約を変えたいです")
    assert _friend(friend.id).attention == "open"
    assert "要対応" in _inbox(client, filter="open") and customer.full_name in _inbox(client, filter="open")
    assert customer.full_name not in _inbox(client, filter="done")

    client.post_form(f"/customers/{customer.id}/line/messages", {"text": "承知しました", "client_key": "r1"})
    assert _friend(friend.id).attention == "done"
    assert customer.full_name in _inbox(client, filter="done") and "対応済み" in _inbox(client, filter="done")
    assert customer.full_name not in _inbox(client, filter="open")

    _incoming(client, line_shop, friend.line_user_id, 2, text="もう一つ")
    assert _friend(friend.id).attention == "open"


def test_an_approved_draft_answers_the_conversation(client, auth, line_shop):
    from crm.line_tab import drafts

    customer, friend = _linked(line_shop)
    _incoming(client, line_shop, friend.line_user_id, 1)
    writer = make_staff(line_shop.shop, line_send_mode=LineSendMode.APPROVAL)
    draft = drafts.save_draft(friend, writer, "下書きの返信", expected_version=0, request_approval=True)
    drafts.approve(draft, line_shop.owner, expected_version=draft.version)
    assert _friend(friend.id).attention == "done"


def test_the_buttons_set_either_mark(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    auth.login(make_staff(line_shop.shop))
    tab = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert "要対応にする" in tab
    response = client.post_form(f"/line/friends/{friend.id}/attention", {"attention": "open"}, headers=HX)
    assert response.status_code == 200 and "対応済みにする" in response.get_data(as_text=True)
    assert _friend(friend.id).attention == "open"
    client.post_form(f"/line/friends/{friend.id}/attention", {"attention": "done"})
    assert _friend(friend.id).attention == "done"
    assert client.post_form(f"/line/friends/{friend.id}/attention", {"attention": "maybe"}).status_code == 400


def test_notify_later_still_works_beside_the_marks(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    auth.login(line_shop.owner)
    _incoming(client, line_shop, friend.line_user_id, 1)
    client.get(f"/customers/{customer.id}/line")  # read
    client.post_form(f"/customers/{customer.id}/line/notify-later", {})
    assert _friend(friend.id).unread and _friend(friend.id).attention == "open"
    assert customer.full_name in _inbox(client, filter="unread")


def test_assigning_a_conversation_and_the_mine_filter(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    other, other_friend = _linked(line_shop, "鈴木")
    _incoming(client, line_shop, friend.line_user_id, 1)
    _incoming(client, line_shop, other_friend.line_user_id, 2)
    staff = make_staff(line_shop.shop, name="佐藤")
    auth.login(staff)
    tab = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert f'<option value="{staff.id}"' in tab and "佐藤 (自分)" in tab
    response = client.post_form(f"/line/friends/{friend.id}/assignee", {"assignee_id": str(staff.id)}, headers=HX)
    assert response.status_code == 200 and f'<option value="{staff.id}" selected' in response.get_data(as_text=True)
    assert _friend(friend.id).assignee_id == staff.id
    mine = _inbox(client, filter="mine")
    assert customer.full_name in mine and other.full_name not in mine
    assert "担当: 佐藤" in _inbox(client)

    stranger = make_staff(make_shop()[0])
    response = client.post_form(f"/line/friends/{friend.id}/assignee", {"assignee_id": str(stranger.id)}, headers=HX)
    assert response.status_code == 422 and "有効なスタッフ" in response.get_data(as_text=True)
    assert _friend(friend.id).assignee_id == staff.id
    client.post_form(f"/line/friends/{friend.id}/assignee", {"assignee_id": ""})
    assert _friend(friend.id).assignee_id is None


def test_only_mine_limits_the_yellow_bar(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    _other, other_friend = _linked(line_shop, "鈴木")
    staff = make_staff(line_shop.shop)
    _incoming(client, line_shop, friend.line_user_id, 1)
    _incoming(client, line_shop, other_friend.line_user_id, 2)
    friend.assignee_id = staff.id
    _db.session.flush()
    auth.login(staff)
    assert "（2人）" in client.get("/line/unread-bar").get_data(as_text=True)
    client.post_form("/profile/notifications", {"digest": "on", "only_mine": "on"})
    _db.session.refresh(staff)
    assert staff.line_only_mine is True
    assert "（1人）" in client.get("/line/unread-bar").get_data(as_text=True)
    unread = client.get("/line/unread").get_data(as_text=True)
    assert customer.full_name in unread and "鈴木" not in unread
    assert 'name="only_mine" checked' in client.get("/profile/notifications").get_data(as_text=True)


def test_spam_hides_the_friend_from_the_inbox_and_the_yellow_bar(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    auth.login(line_shop.owner)
    _incoming(client, line_shop, friend.line_user_id, 1)
    assert "（1人）" in client.get("/line/unread-bar").get_data(as_text=True)
    response = client.post_form(f"/line/friends/{friend.id}/spam", {"spam": "1"}, headers=HX)
    assert response.status_code == 200 and "迷惑メッセージを解除" in response.get_data(as_text=True)
    assert customer.full_name not in _inbox(client)
    assert customer.full_name in _inbox(client, filter="spam")
    assert "yellow-bar" not in client.get("/line/unread-bar").get_data(as_text=True)
    _incoming(client, line_shop, friend.line_user_id, 2)  # still kept, still hidden
    assert "yellow-bar" not in client.get("/line/unread-bar").get_data(as_text=True)
    client.post_form(f"/line/friends/{friend.id}/spam", {"spam": "0"})
    assert customer.full_name in _inbox(client)


def test_a_blocked_friend_is_shown_and_the_composer_explains(client, auth, line_shop):
    customer = make_customer(line_shop.shop, family_name="高橋")
    friend = make_friend(line_shop.shop, customer=customer, followed=False)
    _db.session.add(LineMessage(shop_id=friend.shop_id, friend_id=friend.id, direction=Direction.INCOMING,
                                message_type="text", text="前のメッセージ", payload={}, sent_at=datetime.now(timezone.utc)))
    friend.last_message_at = datetime.now(timezone.utc)  # as receiving it does
    _db.session.flush()
    auth.login(line_shop.owner)
    tab = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert "ブロック中" in tab and "composer-blocked" in tab
    assert 'data-limit="5000"' in tab and "disabled>" in tab
    assert "ブロック中" in _inbox(client)
    response = client.post_form(f"/customers/{customer.id}/line/messages", {"text": "届きますか", "client_key": "b1"},
                                headers={"HX-Request": "true", "HX-Target": "customer-tabs"})
    assert response.status_code == 422 and "ブロックしているため" in response.get_data(as_text=True)


def test_inbox_shows_and_filters_on_tags(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    other, other_friend = _linked(line_shop, "鈴木")
    _incoming(client, line_shop, friend.line_user_id, 1)
    _incoming(client, line_shop, other_friend.line_user_id, 2)
    vip = shop_tags.create_tag(line_shop.shop.id, "VIP", "red")
    shop_tags.add_tags(customer, [vip])
    auth.login(line_shop.owner)
    html = _inbox(client)
    assert 'tag-chip tag-red">VIP' in html and other.full_name in html
    filtered = _inbox(client, tag=vip.id)
    assert customer.full_name in filtered and other.full_name not in filtered
    both = _inbox(client, tag=vip.id, filter="open")
    assert customer.full_name in both


def test_inbox_query_count_does_not_grow_with_conversations(client, auth, line_shop, count_queries):
    auth.login(line_shop.owner)
    vip = shop_tags.create_tag(line_shop.shop.id, "VIP", "red")
    counts = []
    for n in (2, 12):
        while _db.session.scalar(sa.select(sa.func.count()).select_from(LineFriend)) < n:
            customer, friend = _linked(line_shop, f"客{_db.session.scalar(sa.select(sa.func.count()).select_from(LineFriend))}")
            shop_tags.add_tags(customer, [vip])
            _incoming(client, line_shop, friend.line_user_id, friend.id)
        with count_queries() as statements:
            assert client.get("/line/inbox").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_a_friend_who_only_got_broadcasts_is_no_conversation(client, auth, line_shop):
    # 一斉配信 writes history rows but no chat: the inbox lists friends who chatted (last_message_at).
    chatted = make_friend(line_shop.shop, display_name="話した人")
    broadcast_only = make_friend(line_shop.shop, display_name="配信だけの人")
    now = datetime.now(timezone.utc)
    for friend in (chatted, broadcast_only):
        _db.session.add(LineMessage(shop_id=friend.shop_id, friend_id=friend.id, direction=Direction.OUTGOING,
                                    message_type="text", text="お知らせ", payload={}, sent_at=now, origin="broadcast"))
    _db.session.add(LineMessage(shop_id=chatted.shop_id, friend_id=chatted.id, direction=Direction.INCOMING,
                                message_type="text", text="質問です", payload={}, sent_at=now))
    chatted.last_message_at = now
    _db.session.flush()
    auth.login(line_shop.owner)
    html = _inbox(client)
    assert "話した人" in html and "配信だけの人" not in html


def test_an_empty_filter_says_nothing_matches_not_that_there_are_no_chats(client, auth, line_shop):
    customer, friend = _linked(line_shop, user_id=line_shop.sandbox.add_user(display_name="は")["user_id"])
    line_shop.sandbox.follow(line_shop.sandbox_channel["channel_id"], friend.line_user_id)
    auth.login(line_shop.owner)
    assert "LINEのトークはまだありません。" in _inbox(client)
    _incoming(client, line_shop, friend.line_user_id, 1, text="こんにちは")
    html = _inbox(client, filter="done")
    assert "条件に合うトークはありません。" in html and "まだありません" not in html
    assert customer.full_name in _inbox(client) and "条件に合う" not in _inbox(client)
