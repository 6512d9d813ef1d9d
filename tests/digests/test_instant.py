"""新着の通知: each staff member's choice (none, new conversations, every message), quiet hours, one push a minute."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from crm.digests import instant
from crm.digests.connections import settings_for
from crm.digests.models import InstantNotice
from crm.extensions import db as _db
from tests.factories import make_customer, make_friend, make_staff
from tests.line_tab.test_conversation import _incoming

NOON = datetime(2026, 12, 3, 3, 0, 5, tzinfo=timezone.utc)  # 12:00:05 in Tokyo


def _setup(line_shop, notify_channel, mode, quiet=None):
    staff = make_staff(line_shop.shop)
    user_id = notify_channel.connect(staff)
    settings = settings_for(staff)
    assert instant.update_preferences(settings, mode, *(quiet or ("", ""))) is None
    customer = make_customer(line_shop.shop, family_name="山田", given_name="花子")
    friend = make_friend(line_shop.shop, customer=customer, line_user_id="U" + "9" * 32)
    _db.session.commit()
    return staff, user_id, friend


def _ts(moment):
    return int(moment.timestamp() * 1000)


def test_every_message_is_pushed_batched_to_one_a_minute(client, line_shop, notify_channel, time_machine):
    time_machine.move_to(NOON, tick=False)
    staff, user_id, friend = _setup(line_shop, notify_channel, "every_message")
    _incoming(client, line_shop, friend.line_user_id, 1, text="予約できますか", ts=_ts(NOON))
    pushes = notify_channel.pushes(user_id)
    assert len(pushes) == 1 and "山田 花子 様: 予約できますか" in pushes[0]["messages"][0]["text"]
    _incoming(client, line_shop, friend.line_user_id, 2, text="二通目", ts=_ts(NOON) + 1000)
    _incoming(client, line_shop, friend.line_user_id, 3, text="三通目", ts=_ts(NOON) + 2000)
    assert len(notify_channel.pushes(user_id)) == 1  # the same minute: waits for the next one
    assert instant.send_due(NOON + timedelta(seconds=20)) == 0
    time_machine.move_to(NOON + timedelta(seconds=60), tick=False)
    assert instant.send_due() == 1
    assert instant.send_due() == 0  # exactly once
    _db.session.commit()
    pushes = notify_channel.pushes(user_id)
    assert len(pushes) == 2 and "2件" in pushes[1]["messages"][0]["text"]
    slots = _db.session.scalars(sa.select(InstantNotice.slot).where(InstantNotice.staff_id == staff.id)).all()
    assert len(slots) == len(set(slots)) == 2


def test_new_conversations_only_and_none_and_quiet_hours(client, line_shop, notify_channel, time_machine):
    time_machine.move_to(NOON, tick=False)
    staff, user_id, friend = _setup(line_shop, notify_channel, "new_conversation")
    quiet_staff = make_staff(line_shop.shop)
    quiet_user = notify_channel.connect(quiet_staff)
    instant.update_preferences(settings_for(quiet_staff), "every_message", "11:00", "13:00")
    none_staff = make_staff(line_shop.shop)
    none_user = notify_channel.connect(none_staff)
    _db.session.commit()
    _incoming(client, line_shop, friend.line_user_id, 1, text="はじめまして", ts=_ts(NOON))
    time_machine.move_to(NOON + timedelta(minutes=2), tick=False)
    _incoming(client, line_shop, friend.line_user_id, 2, text="続きです", ts=_ts(NOON) + 120_000)
    instant.send_due()
    _db.session.commit()
    assert len(notify_channel.pushes(user_id)) == 1  # the second message continues the same conversation
    assert notify_channel.pushes(quiet_user) == [] and notify_channel.pushes(none_user) == []


def test_preferences_are_chosen_on_the_profile_page(client, auth, line_shop):
    staff = make_staff(line_shop.shop)
    auth.login(staff)
    page = client.get("/profile/notifications").get_data(as_text=True)
    assert "新着メッセージの通知" in page and "メッセージごと" in page and "通知しない時間帯" in page
    bad = client.post_form("/profile/notifications", {"part": "instant", "instant_mode": "every_message",
                                                        "quiet_from": "22:00", "quiet_until": ""})
    assert bad.status_code == 422 and "開始と終了の両方" in bad.get_data(as_text=True)
    ok = client.post_form("/profile/notifications", {"part": "instant", "instant_mode": "every_message",
                                                       "quiet_from": "22:00", "quiet_until": "08:00"})
    assert ok.status_code == 302
    _db.session.expire_all()
    settings = settings_for(staff)
    assert (settings.instant_mode, settings.quiet_from, settings.quiet_until) == ("every_message", "22:00", "08:00")
