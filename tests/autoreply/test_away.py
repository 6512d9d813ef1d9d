"""応答時間 and 時間外: by the booking page's hours by default, own ranges and 休業日; once per window."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from crm.autoreply import services
from crm.autoreply.messages import AutoReplyError
from crm.autoreply.models import HoursSource
from crm.bookings import catalog as booking_services
from crm.extensions import db as _db
from tests.autoreply.helpers import auto_messages, delivered, friend_of, say
from tests.bookings.helpers import open_every_day

TOKYO = ZoneInfo("Asia/Tokyo")


def at(time_machine, y, m, d, hh, mm=0):
    time_machine.move_to(datetime(y, m, d, hh, mm, tzinfo=TOKYO), tick=False)


def _away_on(line_shop, source=HoursSource.BOOKING, window=12, holiday_text=""):
    services.save_away(line_shop.shop.id, True, source, "ただいま営業時間外です。", holiday_text, window, False)
    _db.session.flush()


def test_a_message_at_23h_gets_the_away_text_once_per_window_and_stays_unread(client, line_shop, time_machine):
    open_every_day(line_shop.shop)  # 10:00-19:00, the booking page's hours
    _away_on(line_shop)
    user = line_shop.sandbox.add_user(display_name="はなこ")
    at(time_machine, 2026, 11, 24, 23, 0)
    for text in ["すみません", "明日の予約", "変更できますか", "よろしく", "お願いします"]:
        say(client, line_shop, user, text)
    sent = delivered(line_shop)
    assert [(via, [m["text"] for m in ms]) for via, ms in sent] == [("reply", ["ただいま営業時間外です。"])]
    friend = friend_of(user)
    assert friend.unread and friend.unread_count == 5  # still 要対応, and the digest counts five
    [row] = auto_messages()
    assert row.payload["origin_label"] == "時間外"
    at(time_machine, 2026, 11, 25, 7, 0)  # 8 hours later, still closed: inside the 12-hour window
    say(client, line_shop, user, "まだですか")
    assert len(delivered(line_shop)) == 1
    at(time_machine, 2026, 11, 25, 9, 30)  # 10.5 h: still inside
    say(client, line_shop, user, "おはようございます")
    assert len(delivered(line_shop)) == 1


def test_the_window_is_the_shops_choice(client, line_shop, time_machine):
    open_every_day(line_shop.shop)
    _away_on(line_shop, window=6)
    user = line_shop.sandbox.add_user()
    at(time_machine, 2026, 11, 24, 23, 0)
    say(client, line_shop, user, "a")
    at(time_machine, 2026, 11, 25, 5, 30)  # 6.5 h later
    say(client, line_shop, user, "b")
    assert len(delivered(line_shop)) == 2


def test_inside_the_hours_nothing_answers(client, line_shop, time_machine):
    open_every_day(line_shop.shop)
    _away_on(line_shop)
    user = line_shop.sandbox.add_user()
    at(time_machine, 2026, 11, 24, 10, 0)
    say(client, line_shop, user, "こんにちは")
    at(time_machine, 2026, 11, 24, 18, 59)
    say(client, line_shop, user, "こんにちは")
    assert delivered(line_shop) == [] and auto_messages() == []


def test_a_closure_of_the_booking_page_is_a_holiday_with_its_own_text(client, line_shop, time_machine):
    open_every_day(line_shop.shop)
    booking_services.add_closure(line_shop.shop.id, date(2026, 11, 24), "研修")
    _away_on(line_shop, holiday_text="本日は休業日です。")
    user = line_shop.sandbox.add_user()
    at(time_machine, 2026, 11, 24, 12, 0)  # normally open
    say(client, line_shop, user, "やってますか")
    assert [m["text"] for _via, ms in delivered(line_shop) for m in ms] == ["本日は休業日です。"]


def test_own_hours_with_two_ranges_a_day_and_a_holiday_range(client, line_shop, time_machine):
    services.save_hours(line_shop.shop.id, {1: [("10:00", "12:00"), ("13:00", "24:00")]})  # Tuesdays
    services.add_closure(line_shop.shop.id, date(2026, 12, 29), date(2027, 1, 3), "年末年始")
    _away_on(line_shop, source=HoursSource.CUSTOM, window=0)
    user = line_shop.sandbox.add_user()
    at(time_machine, 2026, 11, 24, 11, 0)  # a Tuesday, first range
    say(client, line_shop, user, "a")
    at(time_machine, 2026, 11, 24, 23, 30)  # second range, up to 24:00
    say(client, line_shop, user, "b")
    assert delivered(line_shop) == []
    at(time_machine, 2026, 11, 24, 12, 30)  # the lunch break
    say(client, line_shop, user, "c")
    at(time_machine, 2026, 12, 29, 11, 0)  # a Tuesday in the 休業日 range
    say(client, line_shop, user, "d")
    assert len(delivered(line_shop)) == 2


def test_overlapping_or_backward_hours_are_refused_with_the_field(line_shop):
    with pytest.raises(AutoReplyError) as error:
        services.save_hours(line_shop.shop.id, {2: [("10:00", "14:00"), ("13:00", "18:00")]})
    assert error.value.field == "hours_2_1_opens" and "重なって" in error.value.message
    with pytest.raises(AutoReplyError) as error:
        services.save_hours(line_shop.shop.id, {3: [("", ""), ("18:00", "10:00")]})
    assert error.value.field == "hours_3_2_opens"
    with pytest.raises(AutoReplyError) as error:
        services.save_hours(line_shop.shop.id, {0: [("25:00", "26:00")]})
    assert error.value.field == "hours_0_1_opens"
    with pytest.raises(AutoReplyError) as error:
        services.add_closure(line_shop.shop.id, date(2026, 12, 3), date(2026, 12, 1), "")
    assert error.value.field == "last_day"


def test_an_expired_reply_token_is_recorded_and_not_pushed_unless_allowed(client, line_shop, time_machine):
    from crm.line_platform import sending

    open_every_day(line_shop.shop)
    _away_on(line_shop)
    user = line_shop.sandbox.add_user()
    at(time_machine, 2026, 11, 24, 23, 0)
    built = line_shop.sandbox.send(line_shop.sandbox_channel["channel_id"], user["user_id"],
                                   {"type": "message", "message": {"type": "text", "text": "遅延"}})["event"]
    line_shop.sandbox.expire_reply_token(built["replyToken"])
    assert line_shop.post_events(client, [built]).status_code == 200
    [row] = auto_messages()
    assert row.status.value == "failed" and "応答トークン" in row.failure_reason
    assert delivered(line_shop) == []
    # Allowed: a refused token falls back to a push.
    services.save_away(line_shop.shop.id, True, HoursSource.BOOKING, "時間外です", "", 0, True)
    other = line_shop.sandbox.add_user()
    line_shop.sandbox.set_friendship(line_shop.sandbox_channel["channel_id"], other["user_id"], "friend")
    built = line_shop.sandbox.send(line_shop.sandbox_channel["channel_id"], other["user_id"],
                                   {"type": "message", "message": {"type": "text", "text": "遅延"}})["event"]
    line_shop.sandbox.expire_reply_token(built["replyToken"])
    line_shop.post_events(client, [built])
    assert [via for via, _ms in delivered(line_shop)] == ["push"]
    # Too late to reply at all (the job ran a minute after the event): recorded, not pushed.
    services.save_away(line_shop.shop.id, True, HoursSource.BOOKING, "時間外です", "", 0, False)
    late = auto_messages()[-1]
    assert late.via == "push"
    row = sending.queue_messages(friend_of(other), [{"type": "text", "text": "x"}], origin="auto",
                                 reply=sending.EventReply("stale", datetime.now(timezone.utc) - timedelta(minutes=2)))
    _db.session.flush()
    sending.deliver(row.id)
    assert row.status.value == "failed" and len(delivered(line_shop)) == 1


def test_standby_events_get_no_answer(client, line_shop, time_machine):
    open_every_day(line_shop.shop)
    _away_on(line_shop)
    at(time_machine, 2026, 11, 24, 23, 0)
    event = {"type": "message", "mode": "standby", "timestamp": int(datetime.now(timezone.utc).timestamp() * 1000),
             "webhookEventId": "01STANDBY", "source": {"type": "user", "userId": "U" + "d" * 32},
             "deliveryContext": {"isRedelivery": False},
             "message": {"id": "9001", "type": "text", "text": "hi"}}
    line_shop.post_events(client, [event])
    assert auto_messages() == []


def test_a_basic_shop_gets_no_automatic_answer(client, line_shop, time_machine, app, monkeypatch):
    from crm.shops.models import Plan

    open_every_day(line_shop.shop)
    _away_on(line_shop)
    line_shop.shop.plan = Plan.BASIC
    _db.session.flush()
    monkeypatch.setitem(app.config, "LINE_TAB_PREMIUM_FROM", "2025-01-10")
    user = line_shop.sandbox.add_user()
    at(time_machine, 2026, 11, 24, 23, 0)
    say(client, line_shop, user, "hi")
    assert auto_messages() == []


def test_haishin_teishi_at_23h_gets_only_the_opt_out_answer(client, line_shop, time_machine):
    """The built-in 「配信停止」 comes before 時間外: the customer hears one answer, the confirmation."""
    open_every_day(line_shop.shop)
    _away_on(line_shop)
    user = line_shop.sandbox.add_user(display_name="はなこ")
    at(time_machine, 2026, 11, 24, 23, 0)
    say(client, line_shop, user, "配信停止")
    sent = delivered(line_shop)
    assert len(sent) == 1 and sent[0][0] == "reply"
    assert "配信停止を受け付けました" in sent[0][1][0]["text"]
    [row] = auto_messages()
    assert row.payload["origin_label"] == "配信停止"
    say(client, line_shop, user, "すみません")  # the next message still gets 時間外, once
    assert [ms[0]["text"] for _, ms in delivered(line_shop)][-1] == "ただいま営業時間外です。"
