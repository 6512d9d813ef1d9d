"""The LINE tab: unread and 後で通知, the yellow bar, keyset pages, polling, idempotent sending, the inbox."""
import re
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from crm.conversations.models import Direction, LineMessage, LineRead, SendStatus
from crm.extensions import db as _db
from crm.shops.models import Plan
from tests.factories import make_customer, make_friend, make_staff

T0 = 1_700_000_000_000


def _incoming(client, line_shop, user_id, n, text=None, ts=None):
    event = {"type": "message", "mode": "active", "timestamp": ts or T0 + n * 1000,
             "webhookEventId": f"01CONV{user_id[-6:]}{n:014d}", "replyToken": f"r{n}",
             "source": {"type": "user", "userId": user_id}, "deliveryContext": {"isRedelivery": False},
             "message": {"id": f"{abs(hash(user_id)) % 10**6}{n:06d}", "type": "text", "text": text or f"m{n}"}}
    assert line_shop.post_events(client, [event]).status_code == 200


def _linked(line_shop, name="山田", user_id=None):
    customer = make_customer(line_shop.shop, family_name=name)
    friend = make_friend(line_shop.shop, customer=customer, line_user_id=user_id or ("U" + format(abs(hash(name)), "032x")[:32]))
    return customer, friend


def _bar(client):
    return client.get("/line/unread-bar").get_data(as_text=True)


def test_a_message_makes_the_bar_appear_and_opening_the_tab_clears_it(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    staff = make_staff(line_shop.shop)
    auth.login(staff)
    assert "yellow-bar" not in _bar(client)
    _incoming(client, line_shop, friend.line_user_id, 1)
    _incoming(client, line_shop, friend.line_user_id, 2)
    bar = _bar(client)
    assert "未読のLINEメッセージが2件あります（1人）" in bar
    assert "yellow-bar" in client.get("/customers/").get_data(as_text=True)  # on every page

    assert "m2" in client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert "yellow-bar" not in _bar(client)
    read = _db.session.scalars(sa.select(LineRead)).one()
    assert read.staff_id == staff.id and read.unread_count == 2
    _db.session.refresh(friend)
    assert friend.last_read_by_id == staff.id and friend.unread_since is None


def test_notify_later_keeps_it_unread_until_a_reply(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    auth.login(line_shop.owner)
    _incoming(client, line_shop, friend.line_user_id, 1)
    client.get(f"/customers/{customer.id}/line")
    assert "yellow-bar" not in _bar(client)

    response = client.post_form(f"/customers/{customer.id}/line/notify-later", {"remind_at": "2030-01-05T09:00"},
                                headers={"HX-Request": "true", "HX-Target": "customer-tabs"})
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "unread-changed"
    assert "yellow-bar" not in _bar(client)  # set aside until 2030-01-05 09:00: back in the bar then
    _db.session.refresh(friend)
    assert friend.remind_at == datetime(2030, 1, 5, 0, 0, tzinfo=timezone.utc)  # 09:00 in Tokyo
    listing = client.get("/line/unread").get_data(as_text=True)
    assert "後で通知" in listing and "01/05 09:00" in listing
    client.post_form(f"/customers/{customer.id}/line/notify-later", {})  # without a time: in the bar now
    assert "未読のLINEメッセージが1件" in _bar(client)

    client.post_form(f"/customers/{customer.id}/line/messages", {"text": "お返事です", "client_key": "k1"})
    assert "yellow-bar" not in _bar(client)


def test_unread_list_is_oldest_first_and_includes_unlinked_friends(client, auth, line_shop):
    customer, friend = _linked(line_shop, "後")
    stranger = make_friend(line_shop.shop, display_name="ゆみ", line_user_id="U" + "7" * 32)
    _incoming(client, line_shop, friend.line_user_id, 5, ts=T0 + 50_000)
    _incoming(client, line_shop, stranger.line_user_id, 1, ts=T0 + 10_000)
    auth.login(line_shop.owner)
    html = client.get("/line/unread").get_data(as_text=True)
    assert html.index("ゆみ") < html.index("後 太郎")
    assert f"/line/friends/{stranger.id}" in html and f"/customers/{customer.id}/line" in html


def test_history_loads_in_keyset_pages(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    for n in range(75):
        _db.session.add(LineMessage(shop_id=line_shop.shop.id, friend_id=friend.id, direction=Direction.INCOMING,
                                    message_type="text", text=f"msg{n:03d}", payload={},
                                    sent_at=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=n)))
    _db.session.flush()
    auth.login(line_shop.owner)
    first = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert "msg074" in first and "msg045" in first and "msg044" not in first
    older_url = re.search(r'hx-get="(/line/friends/\d+/older\?before=[^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(older_url).get_data(as_text=True)
    assert "msg044" in second and "msg015" in second and "msg014" not in second and "msg045" not in second
    third_url = re.search(r'hx-get="(/line/friends/\d+/older\?before=[^"]+)"', second).group(1).replace("&amp;", "&")
    third = client.get(third_url).get_data(as_text=True)
    assert "msg000" in third and "older-sentinel" not in third


def test_tab_query_count_does_not_grow_with_history(client, auth, line_shop, count_queries):
    customer, friend = _linked(line_shop)
    staff = make_staff(line_shop.shop)
    counts = []
    auth.login(line_shop.owner)
    for total in (40, 400):
        existing = _db.session.scalar(sa.select(sa.func.count()).select_from(LineMessage))
        for n in range(existing, total):
            _db.session.add(LineMessage(shop_id=line_shop.shop.id, friend_id=friend.id,
                                        direction=Direction.OUTGOING if n % 2 else Direction.INCOMING,
                                        message_type="text", text=f"m{n}", payload={}, status=SendStatus.SENT if n % 2 else None,
                                        sender_id=staff.id if n % 2 else None,
                                        sent_at=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=n)))
        _db.session.flush()
        with count_queries() as statements:
            assert client.get(f"/customers/{customer.id}/line").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_poll_appends_new_messages_and_refreshes_changed_ones(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    auth.login(line_shop.owner)
    page = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    poll_url = re.search(r'hx-get="(/line/friends/\d+/poll\?[^"]+)"', page).group(1).replace("&amp;", "&")
    _incoming(client, line_shop, friend.line_user_id, 1, text="いま着きました")
    response = client.get(poll_url).get_data(as_text=True)
    assert 'hx-swap-oob="beforeend:#conversation"' in response and "いま着きました" in response
    next_url = re.search(r'hx-get="(/line/friends/\d+/poll\?[^"]+)"', response).group(1).replace("&amp;", "&")
    assert client.get(next_url).get_data(as_text=True).count("いま着きました") == 0  # only once
    _db.session.refresh(friend)
    assert friend.unread_since is None  # it arrived on an open tab


def test_the_same_composition_is_sent_once(client, auth, line_shop):
    customer, friend = _linked(line_shop, user_id=line_shop.sandbox.add_user(display_name="x")["user_id"])
    line_shop.sandbox.follow(line_shop.sandbox_channel["channel_id"], friend.line_user_id)
    auth.login(line_shop.owner)
    for _ in range(3):  # a double click, a retried request, a second tab with the same form
        response = client.post_form(f"/customers/{customer.id}/line/messages", {"text": "一度だけ", "client_key": "same"})
        assert response.status_code == 302
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(LineMessage)) == 1
    assert len(line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])) == 1


def test_composer_counter_send_key_and_preference(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    auth.login(line_shop.owner)
    html = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert 'data-send-key="enter"' in html and "0 / 5000" in html and 'name="client_key"' in html
    client.post_form("/line/preferences/send-key", {"send_key": "alt_enter"})
    html = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert 'data-send-key="alt_enter"' in html and "Alt+Enterで送信" in html
    assert client.post_form("/line/preferences/send-key", {"send_key": "ctrl"}).status_code == 400


def test_inbox_is_most_recent_first_with_unread_marked(client, auth, line_shop):
    older, older_friend = _linked(line_shop, "古")
    newer, newer_friend = _linked(line_shop, "新")
    _incoming(client, line_shop, older_friend.line_user_id, 1, ts=T0)
    _incoming(client, line_shop, newer_friend.line_user_id, 2, ts=T0 + 60_000, text="新しい")
    auth.login(line_shop.owner)
    client.get(f"/customers/{older.id}/line")  # read the old one
    html = client.get("/line/inbox").get_data(as_text=True)
    assert html.index("新 太郎") < html.index("古 太郎")
    items = re.findall(r'<li class="list-item( unread-item)?">(.*?)</li>', html, re.S)
    assert [(bool(u), "新 太郎" in body) for u, body in items] == [(True, True), (False, False)]


def test_basic_shop_gets_no_line_tab(client, auth, line_shop):
    customer, friend = _linked(line_shop)
    line_shop.shop.plan = Plan.BASIC
    _db.session.flush()
    auth.login(line_shop.owner)
    _incoming(client, line_shop, friend.line_user_id, 1, text="秘密の本文")
    response = client.get(f"/customers/{customer.id}/line")
    html = response.get_data(as_text=True)
    # Not a bare 403: the record with its tabs, the LINE tab explaining the plan, no LINE content.
    assert response.status_code == 200 and 'role="tab"' in html and "ご利用中プラン" in html
    assert "ベーシックプラン" in html and "/settings/plan" in html and "秘密の本文" not in html
    inbox = client.get("/line/inbox")
    assert inbox.status_code == 403 and "プレミアムプランでできること" in inbox.get_data(as_text=True)
    assert "<h1>403</h1>" not in inbox.get_data(as_text=True)
    page = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "yellow-bar" not in page and "/line/unread-bar" not in page
    assert "premium-badge" in page and 'href="/line/inbox"' not in page  # the nav says what LINEトーク is
    assert "たろう" in page  # the LINE name stays, to find the customer in the LINE app


def test_opening_an_unlinked_friend_reads_it(client, auth, line_shop):
    stranger = make_friend(line_shop.shop, display_name="ゆみ", line_user_id="U" + "8" * 32)
    _incoming(client, line_shop, stranger.line_user_id, 1)
    auth.login(line_shop.owner)
    assert "未読のLINEメッセージが1件" in _bar(client)
    assert "m1" in client.get(f"/line/friends/{stranger.id}").get_data(as_text=True)
    assert "yellow-bar" not in _bar(client)
