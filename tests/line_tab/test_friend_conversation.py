"""Issue 17: every friend answerable from one live inbox; 後で通知 kept and brought back at its time."""
import re
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from crm.conversations.models import Direction, LineFriend, LineMessage
from crm.digests.models import Notification
from crm.extensions import db as _db
from crm.line_tab import scheduling
from tests.factories import make_customer, make_friend, make_staff
from tests.line_tab.test_conversation import _incoming

INQUIRY = "来週の土曜にカットの予約をしたいです"


def _stranger(line_shop, name="さくら"):
    sandbox, cid = line_shop.sandbox, line_shop.sandbox_channel["channel_id"]
    user = sandbox.add_user(display_name=name)
    sandbox.set_friendship(cid, user["user_id"], "friend")
    return make_friend(line_shop.shop, display_name=name, line_user_id=user["user_id"])


def _htmx(client, url, data=None):
    data = dict(data or {}, csrf_token=client.csrf_token())
    return client.post(url, data=data, headers={"HX-Request": "true", "HX-Target": "line-conversation"})


def test_an_unlinked_friend_gets_the_whole_conversation(client, auth, line_shop):
    friend = _stranger(line_shop)
    _incoming(client, line_shop, friend.line_user_id, 1, text=INQUIRY)
    auth.login(line_shop.owner)
    page = client.get(f"/line/friends/{friend.id}").get_data(as_text=True)
    assert INQUIRY in page and 'id="composer"' in page and "送信予約" in page and "後で通知" in page
    assert f"/line/friends/{friend.id}/export.csv" in page and "顧客と連携" in page
    assert f'action="/line/friends/{friend.id}/messages"' in page

    response = _htmx(client, f"/line/friends/{friend.id}/messages", {"text": "ご予約承ります", "client_key": "k1"})
    assert response.status_code == 200 and "ご予約承ります" in response.get_data(as_text=True)
    assert "ご予約承ります" in [m["text"] for s in line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])
                                  for m in s["messages"]]
    draft = _htmx(client, f"/line/friends/{friend.id}/drafts", {"text": "下書きです", "action": "save"})
    assert draft.status_code == 200 and "下書きを保存しました" in draft.get_data(as_text=True)
    later = _htmx(client, f"/line/friends/{friend.id}/notify-later", {})
    assert later.status_code == 200 and "後で通知します" in later.get_data(as_text=True)
    export = client.get(f"/line/friends/{friend.id}/export.csv")
    assert export.status_code == 200 and INQUIRY in export.get_data(as_text=True)


def test_a_staff_member_needing_approval_drafts_for_an_unlinked_friend(client, auth, line_shop):
    friend = _stranger(line_shop)
    staff = make_staff(line_shop.shop)  # approval mode
    auth.login(staff)
    page = client.get(f"/line/friends/{friend.id}").get_data(as_text=True)
    assert "Enterで承認を依頼" in page and "承認を依頼" in page
    assert client.post_form(f"/line/friends/{friend.id}/messages", {"text": "x"}).status_code == 403


def test_older_messages_of_an_unlinked_friend_load_by_keyset(client, auth, line_shop):
    friend = _stranger(line_shop)
    for n in range(75):
        _db.session.add(LineMessage(shop_id=line_shop.shop.id, friend_id=friend.id, direction=Direction.INCOMING,
                                    message_type="text", text=f"msg{n:03d}", payload={},
                                    sent_at=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=n)))
    _db.session.flush()
    auth.login(line_shop.owner)
    first = client.get(f"/line/friends/{friend.id}").get_data(as_text=True)
    assert "msg074" in first and "msg044" not in first
    url = re.search(r'hx-get="(/line/friends/\d+/older\?before=[^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(url).get_data(as_text=True)
    url = re.search(r'hx-get="(/line/friends/\d+/older\?before=[^"]+)"', second).group(1).replace("&amp;", "&")
    assert "msg000" in client.get(url).get_data(as_text=True)  # beyond the old last 50


def test_linking_is_an_action_inside_the_conversation(client, auth, line_shop):
    friend = _stranger(line_shop)
    customer = make_customer(line_shop.shop, family_name="鈴木", given_name="恵子")
    auth.login(line_shop.owner)
    page = client.get(f"/line/friends/{friend.id}?q=鈴木").get_data(as_text=True)
    assert 'id="composer"' in page and "鈴木 恵子" in page and "この顧客と連携" in page
    assert client.post_form(f"/line/friends/{friend.id}/link", {"customer_id": str(customer.id)}).status_code == 302
    assert client.get(f"/line/friends/{friend.id}").headers["Location"].endswith(f"/customers/{customer.id}/line")


def test_a_poll_never_reads_what_was_set_aside(client, auth, line_shop):
    friend = _stranger(line_shop)
    auth.login(line_shop.owner)
    _incoming(client, line_shop, friend.line_user_id, 1)
    page = client.get(f"/line/friends/{friend.id}").get_data(as_text=True)
    poll = re.search(r'hx-get="(/line/friends/\d+/poll\?[^"]+)"', page).group(1).replace("&amp;", "&")
    _htmx(client, f"/line/friends/{friend.id}/notify-later", {})
    _incoming(client, line_shop, friend.line_user_id, 2, text="追伸です")
    assert "追伸です" in client.get(poll).get_data(as_text=True)  # shown on the open tab …
    _db.session.expire_all()
    friend = _db.session.get(LineFriend, friend.id)
    assert friend.unread_since is not None and friend.notify_later_at is not None  # … but still set aside
    client.get(f"/line/friends/{friend.id}")  # opening it anew is an explicit read
    _db.session.expire_all()
    assert _db.session.get(LineFriend, friend.id).unread_since is None


def test_remind_at_brings_it_back_once_at_its_time(client, auth, line_shop, time_machine):
    time_machine.move_to(datetime(2026, 12, 3, 1, 0, tzinfo=timezone.utc), tick=False)  # 10:00 in Tokyo
    customer = make_customer(line_shop.shop, family_name="佐藤")
    friend = make_friend(line_shop.shop, customer=customer, line_user_id="U" + "5" * 32)
    staff = make_staff(line_shop.shop)
    auth.login(staff)
    _incoming(client, line_shop, friend.line_user_id, 1, ts=int(datetime(2026, 12, 3, 0, 59, tzinfo=timezone.utc).timestamp() * 1000))
    client.get(f"/customers/{customer.id}/line")
    panel = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert panel.count(">後で通知<") == 1  # one 「後で通知」 button, its form says 設定する
    client.post_form(f"/line/friends/{friend.id}/notify-later", {"remind_at": "2026-12-03T15:00"})
    assert "yellow-bar" not in client.get("/line/unread-bar").get_data(as_text=True)

    time_machine.move_to(datetime(2026, 12, 3, 5, 59, tzinfo=timezone.utc), tick=False)
    assert scheduling.tick()["reminded"] == 0
    time_machine.move_to(datetime(2026, 12, 3, 6, 0, tzinfo=timezone.utc), tick=False)  # 15:00 in Tokyo
    assert scheduling.tick()["reminded"] == 1
    assert scheduling.tick()["reminded"] == 0  # at most once
    _db.session.commit()
    assert "未読のLINEメッセージが1件" in client.get("/line/unread-bar").get_data(as_text=True)
    notes = _db.session.scalars(sa.select(Notification).where(Notification.staff_id == staff.id)).all()
    assert [n.kind for n in notes] == ["reminder"]
    assert "後で通知: 佐藤" in client.get("/notifications").get_data(as_text=True)


def test_inbox_sorts_by_last_message_either_way_with_japanese_labels(client, auth, line_shop):
    a = make_friend(line_shop.shop, display_name="あさひ", line_user_id="U" + "a" * 32)
    b = make_friend(line_shop.shop, display_name="べに", line_user_id="U" + "b" * 32)
    base = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    _db.session.add_all([
        LineMessage(shop_id=line_shop.shop.id, friend_id=a.id, direction=Direction.INCOMING, message_type="location",
                    payload={"title": "駅", "address": "東京"}, sent_at=base),
        LineMessage(shop_id=line_shop.shop.id, friend_id=b.id, direction=Direction.INCOMING, message_type="image",
                    payload={}, sent_at=base + timedelta(minutes=1)),
    ])
    a.last_message_at, b.last_message_at = base, base + timedelta(minutes=1)
    _db.session.flush()
    auth.login(line_shop.owner)
    html = client.get("/line/inbox").get_data(as_text=True)
    assert "[location]" not in html and "位置情報" in html and "写真" in html
    assert html.index("べに") < html.index("あさひ")
    client.post_form(f"/line/friends/{a.id}/messages", {"text": "駅でお待ちしています", "client_key": "sort1"})
    html = client.get("/line/inbox").get_data(as_text=True)
    assert html.index("あさひ") < html.index("べに")  # an answer moves it up too


def test_inbox_live_check_is_204_when_nothing_changed_and_the_list_when_something_did(client, auth, line_shop):
    friend = _stranger(line_shop)
    auth.login(line_shop.owner)
    _incoming(client, line_shop, friend.line_user_id, 1)
    page = client.get("/line/inbox").get_data(as_text=True)
    url = re.search(r'hx-get="(/line/inbox/changes\?since=[^"]+)"', page).group(1).replace("&amp;", "&")
    nothing = client.get(url, headers={"HX-Request": "true"})
    assert nothing.status_code == 204 and nothing.get_data() == b""
    _incoming(client, line_shop, friend.line_user_id, 2, text="新しいメッセージ")
    changed = client.get(url, headers={"HX-Request": "true"})
    assert changed.status_code == 200 and "新しいメッセージ" in changed.get_data(as_text=True)
    assert 'id="inbox-live"' in changed.get_data(as_text=True)


def test_inbox_live_check_does_not_grow_with_friends(client, auth, line_shop, count_queries):
    auth.login(line_shop.owner)
    counts = []
    for batch in (1, 60):
        for n in range(batch):
            f = make_friend(line_shop.shop, display_name=f"f{n}", line_user_id=f"U{batch:02d}{n:030d}")
            f.last_message_at = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=n)
        _db.session.flush()
        page = client.get("/line/inbox").get_data(as_text=True)
        url = re.search(r'hx-get="(/line/inbox/changes\?since=[^"]+)"', page).group(1).replace("&amp;", "&")
        with count_queries() as statements:
            assert client.get(url).status_code == 204
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
