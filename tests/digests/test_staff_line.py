"""通知設定: opting out, connecting one's own LINE with a one-time code; the staff rich menu; the notification list."""
import base64
import hashlib
import hmac
import json
import re
from datetime import timedelta

import sqlalchemy as sa

from crm import signals
from crm.conversations import read_state
from crm.conversations.models import Direction, LineFriend, LineMessage
from crm.database import utcnow
from crm.digests import line_notify
from crm.digests.connections import settings_for
from crm.digests.models import Notification, NotificationSettings
from crm.digests.richmenu import sync_rich_menus
from crm.digests.services import run_digest_tick
from crm.extensions import db as _db
from crm.shops.models import Plan
from tests.digests.conftest import make_unread, utc
from tests.factories import make_friend, make_shop, make_staff

CODE = re.compile(r"<code>([A-Z0-9]{8})</code>")


def _post_notify(client, notify_channel, events, secret=None):
    body = json.dumps({"destination": "U0", "events": events}).encode()
    secret = (secret or notify_channel.channel["channel_secret"]).encode()
    signature = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
    return client.post("/line/notify-webhook", data=body,
                       headers={"Content-Type": "application/json", "X-Line-Signature": signature})


def _text_event(user_id, text, reply_token="rt"):
    return {"type": "message", "replyToken": reply_token, "source": {"type": "user", "userId": user_id},
            "timestamp": 1, "webhookEventId": "e", "message": {"id": "1", "type": "text", "text": text}}


def test_opting_out_and_email_preferences(app, client, auth, owner):
    auth.login(owner)
    html = client.get("/profile/notifications").get_data(as_text=True)
    assert "デイリー通知を受け取る" in html and "LINEでの通知は現在ご利用いただけません" in html
    client.post_form("/profile/notifications", {"email": "on"})
    settings = _db.session.get(NotificationSettings, owner.id)
    _db.session.refresh(settings)
    assert settings.digest_opt_out is True and settings.digest_email is True
    client.post_form("/profile/notifications", {"digest": "on"})
    _db.session.refresh(settings)
    assert settings.digest_opt_out is False and settings.digest_email is False


def test_connecting_line_with_a_one_time_code(app, client, auth, db, notify_channel):
    shop, owner = make_shop()
    staff = make_staff(shop)
    auth.login(staff)
    html = client.post_form("/profile/notifications/line-code").get_data(as_text=True)
    code = CODE.search(html).group(1)
    user = notify_channel.sandbox.add_user(display_name="スタッフのLINE")["user_id"]

    # A bad signature is refused; a wrong code is answered, nothing linked.
    assert _post_notify(client, notify_channel, [_text_event(user, code)], secret="0" * 32).status_code == 400
    assert _post_notify(client, notify_channel, [_text_event(user, "ABCD-EFGH")]).status_code == 200
    assert settings_for(staff).line_user_id is None
    # The right code (spaced, lower case) links this LINE user to this account, once.
    assert _post_notify(client, notify_channel, [_text_event(user, f"コード {code[:4].lower()} {code[4:]}")]).status_code == 200
    _db.session.expire_all()
    settings = settings_for(staff)
    assert settings.line_user_id == user and settings.link_code_hash is None
    other = make_staff(shop)
    other_user = notify_channel.sandbox.add_user()["user_id"]
    _post_notify(client, notify_channel, [_text_event(other_user, code)])
    assert settings_for(other).line_user_id is None
    assert "連携済み" in client.get("/profile/notifications").get_data(as_text=True)

    # Blocking the bot disconnects; so does the button.
    _post_notify(client, notify_channel, [{"type": "unfollow", "source": {"type": "user", "userId": user},
                                           "timestamp": 1, "webhookEventId": "u"}])
    _db.session.expire_all()
    assert settings_for(staff).line_user_id is None


def test_an_expired_code_links_nothing(app, client, db, notify_channel):
    from crm.digests.connections import connect_with_code, new_link_code

    shop, owner = make_shop()
    code = new_link_code(owner, now=utcnow() - timedelta(hours=1))
    assert connect_with_code(code, "U" + "1" * 32) is None
    code = new_link_code(owner)
    assert connect_with_code(code, "U" + "1" * 32).staff_id == owner.id


def test_staff_rich_menu_shows_unread_and_switches_only_when_it_changes(app, db, notify_channel):
    shop, owner = make_shop()
    staff = make_staff(shop)
    quiet, quiet_owner = make_shop()
    owner_line, staff_line = notify_channel.connect(owner), notify_channel.connect(staff)
    quiet_line = notify_channel.connect(quiet_owner)
    normal, unread = notify_channel.menus[line_notify.NORMAL], notify_channel.menus[line_notify.UNREAD]
    now = utcnow()

    assert sync_rich_menus(now) == 3
    assert {notify_channel.menu_of(u) for u in (owner_line, staff_line, quiet_line)} == {normal}
    friend = make_unread(shop, now - timedelta(minutes=5))
    assert sync_rich_menus(now) == 2
    assert notify_channel.menu_of(owner_line) == unread == notify_channel.menu_of(staff_line)
    assert notify_channel.menu_of(quiet_line) == normal
    links = len(notify_channel.link_requests())
    assert sync_rich_menus(now) == 0 and run_digest_tick(now).menus == 0
    assert len(notify_channel.link_requests()) == links  # nothing changed, nothing called

    friend.unread_since = None  # read
    _db.session.flush()
    assert sync_rich_menus(now) == 2
    assert notify_channel.menu_of(owner_line) == normal
    # The sandbox phone shows the unread variant's yellow bar label.
    menu = notify_channel.sandbox.http.get(f"{notify_channel.sandbox.url}/v2/bot/richmenu/{unread}", headers={
        "Authorization": f"Bearer {notify_channel.channel['channel_access_token']}"}).json()
    assert menu["areas"][0]["action"]["label"] == "未読メッセージがあります"


def test_read_state_changes_sync_the_menu_after_the_commit(app, db, notify_channel):
    from crm import jobs

    shop, owner = make_shop()
    user = notify_channel.connect(owner)
    sync_rich_menus(utcnow())
    friend = make_friend(shop, display_name="花子LINE")
    message = LineMessage(shop_id=shop.id, friend_id=friend.id, direction=Direction.INCOMING, message_type="text",
                          text="こんにちは", payload={}, sent_at=utcnow())
    _db.session.add(message)
    _db.session.flush()
    signals.message_received.send(friend, message=message, event=None)  # as the gateway announces it
    assert notify_channel.menu_of(user) == notify_channel.menus[line_notify.NORMAL]  # not before the commit
    jobs.commit()  # read state queued one sync for after the commit (jobs run at once in tests)
    assert notify_channel.menu_of(user) == notify_channel.menus[line_notify.UNREAD]
    friend = _db.session.get(LineFriend, friend.id)
    read_state.mark_read(friend, owner)
    jobs.commit()
    assert notify_channel.menu_of(user) == notify_channel.menus[line_notify.NORMAL]


def test_a_basic_shop_keeps_the_normal_menu(app, db, notify_channel):
    shop, owner = make_shop(plan=Plan.BASIC)
    user = notify_channel.connect(owner)
    make_unread(shop, utcnow())
    sync_rich_menus(utcnow())
    assert notify_channel.menu_of(user) == notify_channel.menus[line_notify.NORMAL]


def test_the_notification_list(app, client, auth, db):
    shop, owner = make_shop(name="サロン花")
    friend = make_unread(shop, utc(2025, 3, 2, 20, 0), count=2, name=("木村", "葵"))
    unlinked = make_unread(shop, utc(2025, 3, 2, 21, 0), linked=False, name=("", "ゆう"))
    run_digest_tick(utc(2025, 3, 2, 23, 0))
    other_shop, other_owner = make_shop()
    auth.login(owner)
    badge = client.get("/notifications/badge").get_data(as_text=True)
    assert "通知" in badge and ">1<" in badge
    html = client.get("/notifications").get_data(as_text=True)
    assert "【サロン花】08:00の未読LINEメッセージ" in html and "新着" in html
    assert f'href="/customers/{friend.customer_id}/line"' in html and "木村 葵 様" in html
    assert f'href="/line/friends/{unlinked.id}"' in html and "ゆうLINE（LINE・未連携）" in html
    assert "未読のお客様 2人・メッセージ 3件" in html and "3時間0分" in html
    assert ">1<" not in client.get("/notifications/badge").get_data(as_text=True)  # opened: read
    assert "新着" not in client.get("/notifications").get_data(as_text=True)
    auth.logout()
    auth.login(other_owner)
    assert "サロン花" not in client.get("/notifications").get_data(as_text=True)
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 1


def test_menu_links_to_notifications_settings_and_the_plan_page(app, client, auth, db):
    shop, owner = make_shop()
    staff = make_staff(shop)
    auth.login(owner)
    html = client.get("/customers/").get_data(as_text=True)
    assert 'href="/notifications"' in html and 'hx-get="/notifications/badge"' in html
    assert 'href="/profile/notifications"' in html and 'href="/settings/plan"' in html
    auth.logout()
    auth.login(staff)
    html = client.get("/customers/").get_data(as_text=True)
    assert 'href="/profile/notifications"' in html and 'href="/settings/plan"' not in html
