"""予約リマインダー: the day before at the shop's time, pushed once with a retry key, skipped when cancelled."""
from datetime import datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from crm.autoreply import services
from crm.autoreply.models import BookingReminder
from crm.autoreply.reminders import send_due_reminders
from crm.bookings import services as booking_services
from crm.extensions import db as _db
from crm.jobs import run_job
from crm.line_tab.scheduling import tick
from tests.autoreply.helpers import auto_messages, delivered
from tests.bookings.helpers import book, bookable_shop
from tests.line_tab.helpers import linked

TOKYO = ZoneInfo("Asia/Tokyo")


def _booking(line_shop, time_machine, start=datetime(2026, 11, 25, 14, 0, tzinfo=TOKYO)):
    time_machine.move_to(datetime(2026, 11, 20, 9, 0, tzinfo=TOKYO), tick=False)
    customer, friend, user = linked(line_shop, family_name="伊藤")
    service = bookable_shop(line_shop.shop)
    booking = book(line_shop.shop, service, start).booking
    booking.customer_id = customer.id
    _db.session.flush()
    return booking, friend


def _at(time_machine, day, hh, mm=0):
    time_machine.move_to(datetime(2026, 11, day, hh, mm, tzinfo=TOKYO), tick=False)


def _run_tick():
    return run_job(tick)  # as the cron runs it: one commit, then the queued deliveries


def test_the_reminder_is_pushed_at_18h_the_day_before_once(client, line_shop, time_machine):
    booking, friend = _booking(line_shop, time_machine)
    _at(time_machine, 24, 17, 59)
    assert _run_tick()["reminders"] == 0 and delivered(line_shop) == []
    _at(time_machine, 24, 18, 0)
    assert _run_tick()["reminders"] == 1
    [(via, [message])] = delivered(line_shop)
    assert via == "push"
    assert "伊藤" in message["text"] and "2026年11月25日(水) 14:00〜15:00" in message["text"]
    assert f"/book/{line_shop.shop.booking_key}" in message["text"]
    [row] = auto_messages()
    assert row.origin_id == _db.session.scalars(sa.select(BookingReminder)).one().id
    assert row.payload["origin_label"] == "予約リマインダー" and row.retry_key
    keys = line_shop.sandbox.retry_keys(line_shop.sandbox_channel["channel_id"])
    assert row.retry_key in str(keys)
    # Ticks again (another scheduler, the next minute, a second run): nothing more.
    _at(time_machine, 24, 18, 1)
    _run_tick()
    assert run_job(send_due_reminders) == 0
    assert len(delivered(line_shop)) == 1


def test_a_cancelled_booking_gets_no_reminder(client, line_shop, time_machine):
    booking, _friend = _booking(line_shop, time_machine)
    booking_services.cancel(booking)
    _db.session.flush()
    _at(time_machine, 24, 18, 30)
    assert _run_tick()["reminders"] == 0 and delivered(line_shop) == []


def test_the_shop_chooses_the_time_and_text_or_turns_it_off(client, line_shop, time_machine):
    booking, _friend = _booking(line_shop, time_machine)
    services.save_reminder(line_shop.shop.id, True, time(9, 30), "{お客様名}様 明日{日時}です。{店舗名}")
    _at(time_machine, 24, 9, 29)
    assert _run_tick()["reminders"] == 0
    _at(time_machine, 24, 9, 30)
    assert _run_tick()["reminders"] == 1
    [(_via, [message])] = delivered(line_shop)
    assert message["text"].startswith(f"{booking.full_name}様 明日2026年11月25日(水) 14:00〜15:00です。")
    other, _f = _booking(line_shop, time_machine, datetime(2026, 11, 26, 11, 0, tzinfo=TOKYO))
    services.save_reminder(line_shop.shop.id, False, time(9, 30), "x")
    _at(time_machine, 25, 12, 0)
    assert _run_tick()["reminders"] == 0


def test_a_booking_made_after_the_reminder_time_gets_none(client, line_shop, time_machine):
    _at(time_machine, 24, 20, 0)
    customer, friend, user = linked(line_shop)
    service = bookable_shop(line_shop.shop)
    booking = book(line_shop.shop, service, datetime(2026, 11, 25, 14, 0, tzinfo=TOKYO)).booking
    booking.customer_id = customer.id
    _db.session.flush()
    assert _run_tick()["reminders"] == 0


def test_a_lost_job_is_sent_by_the_sweep_with_the_same_retry_key(client, line_shop, time_machine, app, monkeypatch):
    booking, _friend = _booking(line_shop, time_machine)
    _at(time_machine, 24, 18, 0)
    with monkeypatch.context() as patch:
        patch.setattr("crm.jobs.enqueue", lambda *a, **k: None)  # the delivery job is lost (a Redis FLUSHALL)
        assert run_job(send_due_reminders) == 1
    [row] = auto_messages()
    assert row.status.value == "queued" and delivered(line_shop) == []
    _at(time_machine, 24, 18, 2)
    assert _run_tick()["resent"] == 1
    assert len(delivered(line_shop)) == 1
    assert run_job(send_due_reminders) == 0
