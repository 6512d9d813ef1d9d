"""予約リマインダー: the day before at the shop's time, pushed once with a retry key, skipped when cancelled."""
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from rq import Queue

from crm import job_watch, jobs
from crm.autoreply import services
from crm.autoreply.models import BookingReminder
from crm.autoreply.reminders import send_due_reminders
from crm.bookings import services as booking_services
from crm.extensions import db as _db
from crm.jobs import run_job
from crm.line_tab.scheduling import tick, watch_jobs
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


def _booked_customers(line_shop, service, day, count):
    """`count` LINE-linked customers, each booked (a 60-minute カット) on the 2026-11-`day` at its own hour from 10:00."""
    friends = []
    for n in range(count):
        customer, friend, user = linked(line_shop, family_name=f"顧客{n:02d}", display_name=f"友だち{n:02d}")
        start = datetime(2026, 11, day, 10 + n, 0, tzinfo=TOKYO)
        booking = book(line_shop.shop, service, start, family_name=f"顧客{n:02d}", phone=f"090-1111-{2000 + n:04d}").booking
        booking.customer_id = customer.id
        friends.append((friend, user))
    _db.session.flush()
    return friends


def _round_trips(statements):
    """The statements, less the rows of line_messages on SQLite: its driver gives a many-row INSERT's RETURNING
    in no known order, so SQLAlchemy inserts ORM rows there one by one (PostgreSQL gets them in one)."""
    if _db.engine.dialect.name == "sqlite":
        statements = [s for s in statements if not s.startswith("INSERT INTO line_messages")]
    return len(statements)


def test_reminders_falling_due_together_cost_the_same_few_statements_and_reach_each_phone_once(
        client, line_shop, time_machine, count_queries):
    time_machine.move_to(datetime(2026, 11, 20, 9, 0, tzinfo=TOKYO), tick=False)
    service = bookable_shop(line_shop.shop)
    few = _booked_customers(line_shop, service, 25, 2)
    many = _booked_customers(line_shop, service, 26, 8)
    _at(time_machine, 24, 18, 0)
    with count_queries() as statements_for_few:
        assert send_due_reminders() == 2
    jobs.commit()  # the pushes, after the commit
    _at(time_machine, 25, 18, 0)
    with count_queries() as statements_for_many:
        assert send_due_reminders() == 8
    jobs.commit()
    assert _round_trips(statements_for_many) == _round_trips(statements_for_few)  # not a round of queries per reminder
    cid = line_shop.sandbox_channel["channel_id"]
    pushed = {s["to"]: [m["text"] for m in s["messages"]] for s in line_shop.sandbox.sent(cid)}
    assert len(line_shop.sandbox.sent(cid)) == 10 and set(pushed) == {user["user_id"] for _f, user in few + many}
    for n, (_friend, user) in enumerate(many):
        [text] = pushed[user["user_id"]]
        assert f"顧客{n:02d}" in text and f"2026年11月26日(木) {10 + n}:00〜{11 + n}:00" in text
    assert len(auto_messages()) == 10 and all(m.status.value == "sent" for m in auto_messages())


def test_a_due_reminder_is_not_hidden_behind_bookings_that_never_get_one(client, line_shop, time_machine, monkeypatch):
    monkeypatch.setattr("crm.autoreply.reminders.BATCH", 2)  # a page of candidates holds two bookings
    time_machine.move_to(datetime(2026, 11, 20, 9, 0, tzinfo=TOKYO), tick=False)
    service = bookable_shop(line_shop.shop)
    customer, _friend, user = linked(line_shop, family_name="伊藤")
    book(line_shop.shop, service, datetime(2026, 11, 25, 16, 0, tzinfo=TOKYO)).booking.customer_id = customer.id
    _at(time_machine, 24, 18, 0)
    # Booked at 18:00 the day before for earlier hours: no reminder ever (the confirmation is enough).
    _booked_customers(line_shop, service, 25, 3)
    _db.session.flush()
    assert _run_tick()["reminders"] == 1
    cid = line_shop.sandbox_channel["channel_id"]
    assert [s["to"] for s in line_shop.sandbox.sent(cid)] == [user["user_id"]]


@pytest.fixture
def rq_mode(app, rq_queue, monkeypatch):
    """Jobs through rq on this run's Redis, a queue of the test's own (tests.plugins.redis_db)."""
    monkeypatch.setitem(app.config, "JOBS_MODE", "rq")
    return rq_queue


def _run_queued(app, redis):
    """What a worker does: run every job in the queue (and the ones they queue), in this test's transaction."""
    queue = Queue(app.config["RQ_QUEUE"], connection=redis)
    ran = []
    while queue.jobs:
        job = queue.jobs[0]
        job.delete()
        ran.append(job.args[0])
        run_job(*job.args)
    return ran


def _lose_every_key(app, redis):
    """FLUSHALL, as far as this test's queue goes: its jobs, the mark, the workers' beats."""
    for key in redis.scan_iter(f"*{app.config['RQ_QUEUE']}*"):
        redis.delete(key)


def test_when_redis_loses_the_queued_reminders_a_worker_sends_them_at_once(client, line_shop, time_machine, app, rq_mode):
    booking, _friend = _booking(line_shop, time_machine)
    assert watch_jobs() == "redis"  # the first worker ever: Redis had no mark, the recovery finds nothing to do
    _run_queued(app, rq_mode)
    assert watch_jobs() is None
    _at(time_machine, 24, 18, 0)
    assert _run_tick()["reminders"] == 1
    [row] = auto_messages()
    assert row.status.value == "queued" and delivered(line_shop) == []
    _lose_every_key(app, rq_mode)
    time_machine.shift(2)
    assert _run_tick()["resent"] == 0  # the minute's tick alone: its job might still be waiting in the queue
    assert watch_jobs() == "redis"  # a worker notices within a second
    assert _run_queued(app, rq_mode) == ["crm.line_tab.scheduling.recover", "crm.line_platform.sending.deliver_many"]
    [(via, [message])] = delivered(line_shop)
    assert via == "push" and "伊藤" in message["text"]
    assert [m.status.value for m in auto_messages()] == ["sent"]
    assert watch_jobs() is None
    time_machine.shift(app.config["LINE_CLAIM_LEASE_SECONDS"] + 1)  # once a lost worker's claims have run out
    assert watch_jobs() == "recheck"
    assert _run_queued(app, rq_mode) == ["crm.line_tab.scheduling.tick"]
    assert watch_jobs() is None
    assert len(delivered(line_shop)) == 1 and run_job(send_due_reminders) == 0


def test_a_killed_workers_reminders_are_sent_by_another_worker_within_seconds(client, line_shop, time_machine, app,
                                                                             rq_mode):
    booking, _friend = _booking(line_shop, time_machine)
    assert watch_jobs() == "redis" and _run_queued(app, rq_mode)  # this worker, the first
    assert job_watch.watch_losses(recheck_after=31, worker="other-worker") is None  # a second worker beats
    _at(time_machine, 24, 18, 0)
    assert _run_tick()["reminders"] == 1
    # The other worker takes the delivery job and is SIGKILLed: the job is gone, the row still QUEUED.
    Queue(app.config["RQ_QUEUE"], connection=rq_mode).empty()
    rq_mode.delete(f"{app.config['RQ_QUEUE']}:beat:other-worker")  # its beat runs out (5 s)
    time_machine.shift(5)
    assert watch_jobs() == "worker"
    assert watch_jobs() is None  # one worker hears of it
    assert _run_queued(app, rq_mode) == ["crm.line_tab.scheduling.recover", "crm.line_platform.sending.deliver_many"]
    assert len(delivered(line_shop)) == 1 and [m.status.value for m in auto_messages()] == ["sent"]


def test_a_worker_that_stops_normally_is_not_taken_for_a_lost_one(app, db, rq_mode):
    assert watch_jobs() == "redis"
    _run_queued(app, rq_mode)
    assert job_watch.watch_losses(recheck_after=31, worker="other-worker") is None
    job_watch.worker_leaving(worker="other-worker")
    assert watch_jobs() is None
