"""送信予約: local times, the night warning, release at the due time only, edit/cancel until sending, the tick."""
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from rq import Queue

from crm import jobs
from crm import ticker as in_process
from crm.conversations.models import SendStatus
from crm.database import utcnow
from crm.extensions import db as _db
from crm.line_tab import lists, scheduling, times
from crm.line_tab.times import NotEditable, QuietHours, ScheduleError
from crm.staff.models import LineSendMode
from tests.factories import make_shop, make_staff
from tests.line_tab.helpers import htmx_post, linked, outgoing, sent_texts, tab

TOKYO = ZoneInfo("Asia/Tokyo")
PUSH = "/v2/bot/message/push"


def _day(days=1):
    return (utcnow().astimezone(TOKYO) + timedelta(days=days)).date().isoformat()


# -- time ----------------------------------------------------------------------------------------
def test_a_local_date_and_time_is_stored_as_utc_in_the_shops_timezone():
    assert times.local_to_utc("2026-12-01", "09:00", "Asia/Tokyo") == datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)
    # New York in winter is UTC-5, in summer UTC-4 (zoneinfo knows the rules).
    assert times.local_to_utc("2026-01-15", "09:00", "America/New_York").hour == 14
    assert times.local_to_utc("2026-07-15", "09:00", "America/New_York").hour == 13
    for bad in (("", "09:00"), ("2026-02-30", "09:00"), ("2026-12-01", "25:00"), ("x", "y")):
        with pytest.raises(ScheduleError):
            times.local_to_utc(*bad, "Asia/Tokyo")


@pytest.mark.parametrize("clock,quiet", [("21:59", False), ("22:00", True), ("23:30", True), ("03:00", True),
                                         ("07:59", True), ("08:00", False), ("12:00", False)])
def test_quiet_hours_are_22_to_8_local(clock, quiet):
    assert times.in_quiet_hours(times.local_to_utc("2026-12-01", clock, "Asia/Tokyo"), "Asia/Tokyo") is quiet


def test_check_time_refuses_the_past_far_future_and_unconfirmed_nights():
    now = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)  # 12:00 in Tokyo
    with pytest.raises(ScheduleError, match="これから先"):
        times.check_time(now, "Asia/Tokyo", now=now)
    with pytest.raises(ScheduleError, match="1年以内"):
        times.check_time(now + timedelta(days=400), "Asia/Tokyo", now=now)
    night = times.local_to_utc("2026-12-01", "23:00", "Asia/Tokyo")
    with pytest.raises(QuietHours, match="22:00〜8:00"):
        times.check_time(night, "Asia/Tokyo", now=now)
    times.check_time(night, "Asia/Tokyo", confirm_quiet=True, now=now)
    times.check_time(now + timedelta(hours=1), "Asia/Tokyo", now=now)


def test_quick_choices_are_future_times_in_the_shops_timezone():
    now = datetime(2026, 12, 1, 10, 2, tzinfo=timezone.utc)  # 19:02 in Tokyo: today 18:00 has passed
    choices = {c.key: c for c in times.quick_choices("Asia/Tokyo", now)}
    assert "today_18" not in choices
    assert (choices["tomorrow_9"].date_value, choices["tomorrow_9"].time_value) == ("2026-12-02", "09:00")
    assert choices["in_1h"].time_value == "20:05"
    assert str(choices["tomorrow_9"].label) == "明日 9:00"


# -- scheduling and release -----------------------------------------------------------------------
@pytest.fixture
def chat(line_shop):
    customer, friend, user = linked(line_shop)
    return customer, friend, user


def test_a_scheduled_message_is_not_sent_before_its_time(chat, line_shop):
    customer, friend, user = chat
    due = utcnow() + timedelta(minutes=10)
    message = scheduling.schedule_text(friend, "10分後に届く", sender_id=line_shop.owner.id, scheduled_at=due)
    jobs.commit()
    assert message.status == SendStatus.SCHEDULED and message.retry_key and message.sent_at == due
    assert scheduling.release_due(due - timedelta(seconds=1)) == 0
    jobs.commit()
    assert scheduling.tick(due - timedelta(seconds=1))["released"] == 0
    jobs.commit()
    assert sent_texts(line_shop) == []
    _db.session.refresh(message)
    assert message.status == SendStatus.SCHEDULED
    assert scheduling.release_due(due) == 1
    jobs.commit()
    _db.session.refresh(message)
    assert message.status == SendStatus.SENT and message.via == "push"
    assert sent_texts(line_shop) == ["10分後に届く"]
    assert line_shop.sandbox.retry_keys(line_shop.sandbox_channel["channel_id"]) == {message.retry_key: 1}
    assert scheduling.release_due(due + timedelta(minutes=5)) == 0  # released once


def test_held_and_cancelled_messages_are_never_released(chat, line_shop):
    customer, friend, user = chat
    due = utcnow() + timedelta(minutes=1)
    held = scheduling.schedule_text(friend, "保留", sender_id=None, scheduled_at=due)
    cancelled = scheduling.schedule_text(friend, "取り消し", sender_id=None, scheduled_at=due)
    held.status = SendStatus.HELD
    _db.session.flush()
    scheduling.cancel_scheduled(cancelled)
    jobs.commit()
    assert scheduling.release_due(due + timedelta(days=1)) == 0
    jobs.commit()
    assert sent_texts(line_shop) == []
    assert {m.status for m in outgoing()} == {SendStatus.HELD, SendStatus.CANCELLED}


def test_edit_and_cancel_only_until_sending_starts(chat, line_shop):
    customer, friend, user = chat
    due = utcnow() + timedelta(hours=1)
    message = scheduling.schedule_text(friend, "元の文", sender_id=None, scheduled_at=due)
    later = due + timedelta(hours=1)
    scheduling.edit_scheduled(message, "直した文", later)
    assert (message.text, message.payload["messages"][0]["text"], message.scheduled_at) == ("直した文", "直した文", later)
    assert scheduling.release_due(due + timedelta(minutes=1)) == 0  # it moved later
    message.status = SendStatus.SENDING  # a worker claimed it
    _db.session.flush()
    with pytest.raises(NotEditable):
        scheduling.edit_scheduled(message, "遅すぎる", later)
    with pytest.raises(NotEditable):
        scheduling.cancel_scheduled(message)
    _db.session.refresh(message)
    assert message.text == "直した文" and message.status == SendStatus.SENDING


def test_the_same_client_key_schedules_once(chat, line_shop):
    customer, friend, user = chat
    due = utcnow() + timedelta(hours=1)
    first = scheduling.schedule_text(friend, "一度だけ", sender_id=None, scheduled_at=due, client_key="abc")
    again = scheduling.schedule_text(friend, "一度だけ", sender_id=None, scheduled_at=due, client_key="abc")
    assert first.id == again.id and len(outgoing()) == 1


def test_the_tick_resends_a_stale_sending_message_once_with_its_retry_key(chat, line_shop):
    customer, friend, user = chat
    due = utcnow() - timedelta(minutes=30)
    message = scheduling.schedule_text(friend, "クラッシュ後", sender_id=None, scheduled_at=due)
    jobs.commit()
    scheduling.release_due()
    jobs.commit()
    _db.session.refresh(message)
    assert message.status == SendStatus.SENT
    # A worker died after LINE accepted it but before recording: the row says 送信中, for long.
    message.status = SendStatus.SENDING
    message.updated_at = utcnow() - timedelta(minutes=10)
    _db.session.flush()
    result = scheduling.tick()
    jobs.commit()
    assert result["resent"] == 1
    _db.session.refresh(message)
    assert message.status == SendStatus.SENT
    cid = line_shop.sandbox_channel["channel_id"]
    assert line_shop.sandbox.retry_keys(cid) == {message.retry_key: 1}
    assert [r["status"] for r in line_shop.sandbox.requests(cid) if r["path"] == PUSH] == [200, 409]
    assert sent_texts(line_shop) == ["クラッシュ後"]


def test_deliver_many_sends_a_batch_concurrently(line_shop, app, monkeypatch):
    monkeypatch.setitem(app.config, "LINE_SEND_THREADS", 4)
    due = utcnow() - timedelta(seconds=1)
    rows = []
    for n in range(6):
        customer, friend, user = linked(line_shop, family_name=f"顧客{n}")
        rows.append(scheduling.schedule_text(friend, f"一斉{n}", sender_id=None, scheduled_at=due))
    jobs.commit()
    monkeypatch.setitem(app.config, "LINE_DELIVER_BATCH", 4)
    assert scheduling.release_due() == 6
    jobs.commit()
    assert sorted(sent_texts(line_shop)) == [f"一斉{n}" for n in range(6)]
    assert {m.status for m in outgoing()} == {SendStatus.SENT}
    keys = line_shop.sandbox.retry_keys(line_shop.sandbox_channel["channel_id"])
    assert keys == {m.retry_key: 1 for m in rows}


def test_a_blocked_friend_fails_with_the_reason_and_the_owner_is_told(client, auth, chat, line_shop):
    customer, friend, user = chat
    due = utcnow() - timedelta(seconds=1)
    message = scheduling.schedule_text(friend, "ブロック後", sender_id=line_shop.owner.id, scheduled_at=due)
    friend.followed = False
    jobs.commit()
    scheduling.release_due()
    jobs.commit()
    _db.session.refresh(message)
    assert message.status == SendStatus.FAILED
    assert message.failure_reason == "この友だちにブロックされているため送信できません。"
    assert lists.failed_send_count(line_shop.shop.id) == 1
    auth.login(line_shop.owner)
    html = client.get("/line/scheduled").get_data(as_text=True)
    assert "送信できなかったメッセージ" in html and "ブロック後" in html and "ブロックされているため" in html
    assert "ブロックされているため" in tab(client, customer)
    assert client.post_form(f"/line/failures/{message.id}/ack").status_code == 302
    assert lists.failed_send_count(line_shop.shop.id) == 0
    assert "送信できなかったメッセージ" not in client.get("/line/scheduled").get_data(as_text=True)


def test_a_misconfigured_channel_fails_with_the_reason(chat, line_shop):
    customer, friend, user = chat
    line_shop.channel.channel_access_token = "revoked-token-xxxxxxxxxxxxxxxx"
    due = utcnow() - timedelta(seconds=1)
    message = scheduling.schedule_text(friend, "届かない", sender_id=None, scheduled_at=due)
    jobs.commit()
    scheduling.release_due()
    jobs.commit()
    _db.session.refresh(message)
    assert message.status == SendStatus.FAILED and message.failure_reason.startswith("401")
    assert [m.id for m in lists.failed_sends(line_shop.shop.id)] == [message.id]


def test_scheduled_messages_push_even_with_a_fresh_reply_token(chat, line_shop):
    customer, friend, user = chat
    friend.reply_token, friend.reply_token_received_at = "fresh-token", utcnow()
    message = scheduling.schedule_text(friend, "予約はプッシュ", sender_id=None, scheduled_at=utcnow() - timedelta(seconds=1))
    jobs.commit()
    scheduling.release_due()
    jobs.commit()
    _db.session.refresh(message)
    assert message.via == "push" and friend.reply_token == "fresh-token"


# -- views -----------------------------------------------------------------------------------------
def test_schedule_from_the_composer_shows_in_the_conversation_and_the_list(client, auth, chat, line_shop):
    customer, friend, user = chat
    auth.login(line_shop.owner)
    html = tab(client, customer)
    assert "送信予約" in html and "明日 9:00" in html and 'name="date"' in html
    response = htmx_post(client, f"/customers/{customer.id}/line/schedule",
                         {"text": "明日のご予約、お待ちしております", "client_key": "c-1", "date": _day(), "time": "09:00"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"{_day().replace('-', '/')} 09:00 に送信予約しました。" in html
    assert "明日のご予約、お待ちしております" in html and "予約を取り消す" in html
    (message,) = outgoing()
    assert message.status == SendStatus.SCHEDULED and message.client_key == "c-1"
    assert message.scheduled_at == times.local_to_utc(_day(), "09:00", "Asia/Tokyo")
    assert sent_texts(line_shop) == []
    # The same composition again (double click): still one.
    htmx_post(client, f"/customers/{customer.id}/line/schedule",
              {"text": "明日のご予約、お待ちしております", "client_key": "c-1", "date": _day(), "time": "09:00"})
    assert len(outgoing()) == 1
    html = client.get("/line/scheduled").get_data(as_text=True)
    assert "明日のご予約、お待ちしております" in html and customer.full_name in html and "09:00" in html


def test_a_night_time_needs_a_second_confirmed_press(client, auth, chat, line_shop):
    customer, friend, user = chat
    auth.login(line_shop.owner)
    data = {"text": "夜分に失礼します", "client_key": "n-1", "date": _day(), "time": "23:00"}
    response = htmx_post(client, f"/customers/{customer.id}/line/schedule", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "夜間（22:00〜8:00）に送信されます。" in html and 'name="confirm_quiet" value="1" checked' in html
    assert "夜分に失礼します" in html  # the text is kept
    assert outgoing() == []
    response = htmx_post(client, f"/customers/{customer.id}/line/schedule", {**data, "confirm_quiet": "1"})
    assert response.status_code == 200 and len(outgoing()) == 1


def test_the_fields_fragment_fills_quick_choices_and_warns_at_night(client, auth, chat, line_shop):
    auth.login(line_shop.owner)
    html = client.get("/line/schedule/fields?preset=tomorrow_9&prefix=composer").get_data(as_text=True)
    assert f'value="{_day()}"' in html and 'value="09:00"' in html and "夜間" not in html
    html = client.get(f"/line/schedule/fields?date={_day()}&time=06:30&prefix=composer").get_data(as_text=True)
    assert "夜間（22:00〜8:00）の送信です。" in html


def test_past_times_are_refused(client, auth, chat, line_shop):
    customer, friend, user = chat
    auth.login(line_shop.owner)
    response = htmx_post(client, f"/customers/{customer.id}/line/schedule",
                         {"text": "過去", "date": "2020-01-01", "time": "10:00"})
    assert response.status_code == 422 and "これから先の日時" in response.get_data(as_text=True)
    assert outgoing() == []


def test_edit_and_cancel_from_the_conversation(client, auth, chat, line_shop):
    customer, friend, user = chat
    due = times.local_to_utc(_day(), "10:00", "Asia/Tokyo")
    message = scheduling.schedule_text(friend, "変更前", sender_id=line_shop.owner.id, scheduled_at=due)
    _db.session.flush()
    auth.login(line_shop.owner)
    form = client.htmx_get(f"/line/scheduled/{message.id}/form", f"sched-edit-{message.id}").get_data(as_text=True)
    assert "変更前" in form and 'value="10:00"' in form
    response = htmx_post(client, f"/line/scheduled/{message.id}/edit", {"text": "変更後", "date": _day(2), "time": "11:30"})
    assert response.status_code == 200 and "送信予約を変更しました。" in response.get_data(as_text=True)
    _db.session.refresh(message)
    assert message.text == "変更後" and message.scheduled_at == times.local_to_utc(_day(2), "11:30", "Asia/Tokyo")
    response = htmx_post(client, f"/line/scheduled/{message.id}/cancel", {})
    assert response.status_code == 200 and "送信予約を取り消しました。" in response.get_data(as_text=True)
    _db.session.refresh(message)
    assert message.status == SendStatus.CANCELLED
    # Too late now: sending started (or it was cancelled).
    assert htmx_post(client, f"/line/scheduled/{message.id}/cancel", {}).status_code == 409
    assert scheduling.release_due(due + timedelta(days=5)) == 0


def test_edit_from_the_list_redirects_back(client, auth, chat, line_shop):
    customer, friend, user = chat
    message = scheduling.schedule_text(friend, "一覧から", sender_id=None,
                                       scheduled_at=times.local_to_utc(_day(), "10:00", "Asia/Tokyo"))
    _db.session.flush()
    auth.login(line_shop.owner)
    response = client.post_form(f"/line/scheduled/{message.id}/edit",
                                {"text": "一覧から直した", "date": _day(), "time": "12:00", "next": "scheduled"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/line/scheduled")
    assert "一覧から直した" in client.get("/line/scheduled").get_data(as_text=True)


def test_staff_needing_approval_cannot_edit_or_cancel_but_see_the_list(client, auth, chat, line_shop):
    customer, friend, user = chat
    message = scheduling.schedule_text(friend, "オーナーの予約", sender_id=line_shop.owner.id,
                                       scheduled_at=utcnow() + timedelta(hours=3))
    _db.session.flush()
    staff = make_staff(line_shop.shop, line_send_mode=LineSendMode.APPROVAL)
    auth.login(staff)
    html = client.get("/line/scheduled").get_data(as_text=True)
    assert "オーナーの予約" in html and "予約を取り消す" not in html
    for url in (f"/line/scheduled/{message.id}/edit", f"/line/scheduled/{message.id}/cancel"):
        assert client.post_form(url, {"text": "x", "date": _day(), "time": "10:00"}).status_code == 403
    assert client.get(f"/line/scheduled/{message.id}/form").status_code == 403


def test_another_shops_scheduled_message_is_404(client, auth, chat, line_shop):
    customer, friend, user = chat
    message = scheduling.schedule_text(friend, "x", sender_id=None, scheduled_at=utcnow() + timedelta(hours=3))
    _db.session.flush()
    other_shop, other_owner = make_shop()
    auth.login(other_owner)
    assert client.post_form(f"/line/scheduled/{message.id}/cancel").status_code == 404
    assert "送信予約はありません。" in client.get("/line/scheduled").get_data(as_text=True)


def test_the_tick_command_is_idempotent(app, chat, line_shop):
    customer, friend, user = chat
    scheduling.schedule_text(friend, "コマンド", sender_id=None, scheduled_at=utcnow() - timedelta(seconds=1))
    jobs.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["crm", "tick"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["released"] == 1
    second = runner.invoke(args=["crm", "tick"])
    assert json.loads(second.output)["released"] == 0
    assert sent_texts(line_shop) == ["コマンド"]


def test_the_in_process_ticker_releases_due_messages(app, chat, line_shop, monkeypatch):
    """The embedded default's ticker thread; here it shares the test's connection through the session."""
    customer, friend, user = chat
    message = scheduling.schedule_text(friend, "ティッカー", sender_id=None, scheduled_at=utcnow() - timedelta(seconds=1))
    jobs.commit()
    calls = []
    monkeypatch.setattr(jobs, "run_job", lambda path, *args: calls.append(path))
    ticker = in_process.start_ticker(app, interval=0.05)
    try:
        for _ in range(100):
            if "crm.line_tab.scheduling.tick" in calls:
                break
            ticker.stopped.wait(0.05)
    finally:
        ticker.stop()
    assert "crm.line_tab.scheduling.tick" in calls
    assert message.status == SendStatus.SCHEDULED


def test_with_rq_each_due_second_gets_one_timed_release_job(app, chat, line_shop, redis_client, monkeypatch):
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    from tests.plugins.redis_db import redis_url

    url, redis = redis_url(), redis_client
    redis.flushdb()
    monkeypatch.setitem(app.config, "JOBS_MODE", "rq")
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    try:
        customer, friend, user = chat
        due = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
        scheduling.schedule_text(friend, "a", sender_id=None, scheduled_at=due)
        scheduling.schedule_text(friend, "b", sender_id=None, scheduled_at=due)
        scheduling.schedule_text(friend, "c", sender_id=None, scheduled_at=due + timedelta(milliseconds=300))
        jobs.commit()
        registry = ScheduledJobRegistry("default", connection=redis)
        ids = sorted(registry.get_job_ids())
        ts = int(due.timestamp())
        assert ids == [f"crm-line-release-{ts}", f"crm-line-release-{ts + 1}"]  # never early: rounded up
        job = Queue("default", connection=redis).fetch_job(ids[0])
        assert job.func_name == "crm.jobs.run_worker_job" and job.args == (jobs.job_path(scheduling.release_due),)
        assert registry.get_scheduled_time(ids[0]) == due
    finally:
        redis.flushdb()
        pass  # the client is the redis_client fixture's


def test_a_shop_whose_trial_ended_has_its_due_messages_held_not_sent(chat, line_shop):
    from crm.shops.models import Plan

    customer, friend, user = chat
    message = scheduling.schedule_text(friend, "トライアル終了後", sender_id=None,
                                       scheduled_at=utcnow() - timedelta(seconds=1))
    line_shop.shop.plan, line_shop.shop.plan_until = Plan.TRIAL, utcnow() - timedelta(minutes=1)
    jobs.commit()
    assert scheduling.release_due() == 0
    jobs.commit()
    _db.session.refresh(message)
    assert message.status == SendStatus.HELD and sent_texts(line_shop) == []


def test_a_killed_workers_claim_is_resent_within_a_minute_with_its_retry_key(chat, line_shop, time_machine):
    from crm.line_platform import calls, claims

    customer, friend, user = chat
    time_machine.move_to(datetime(2026, 12, 3, 11, 0, tzinfo=timezone.utc), tick=False)
    message = scheduling.schedule_text(friend, "クラッシュ", sender_id=None, scheduled_at=utcnow() - timedelta(seconds=1))
    message.status = SendStatus.QUEUED  # released, its job about to run
    jobs.commit()
    # The worker claims it, pushes, and is SIGKILLed before recording the outcome.
    plan = claims.claim(message.id, timedelta(minutes=5))
    jobs.commit()
    assert plan is not None and plan.reply_token is None
    calls.call_line(plan)
    cid = line_shop.sandbox_channel["channel_id"]

    time_machine.shift(10)
    assert scheduling.tick()["resent"] == 0  # the claim is still held
    jobs.commit()
    _db.session.refresh(message)
    assert message.status == SendStatus.SENDING

    time_machine.shift(50)  # a minute after the claim
    assert scheduling.tick()["resent"] == 1
    jobs.commit()
    _db.session.refresh(message)
    assert message.status == SendStatus.SENT
    pushes = [r for r in line_shop.sandbox.requests(cid) if r["path"] == PUSH]
    assert [p["status"] for p in pushes] == [200, 409]
    assert {p["headers"]["X-Line-Retry-Key"] for p in pushes} == {message.retry_key}
    assert sent_texts(line_shop) == ["クラッシュ"]


def test_a_live_claim_is_renewed_while_its_push_retries(chat, line_shop, app, time_machine, monkeypatch):
    """A long retry sequence keeps its lease, so the tick does not resend a message still being sent."""
    from crm.line_platform import calls, claims

    customer, friend, user = chat
    clock = datetime(2026, 12, 3, 11, 0, tzinfo=timezone.utc)
    time_machine.move_to(clock, tick=False)
    message = scheduling.schedule_text(friend, "長い再試行", sender_id=None, scheduled_at=utcnow() - timedelta(seconds=1))
    message.status = SendStatus.QUEUED
    jobs.commit()
    plan = claims.claim(message.id)
    jobs.commit()
    first_lease = _db.session.get(type(message), message.id).claimed_until
    line_shop.sandbox.fault(PUSH, status=503, times=2)
    waits = iter([25, 25])
    monkeypatch.setattr(calls, "_sleep", lambda seconds: time_machine.shift(next(waits)))
    outcome = calls.call_line(plan, renew=claims.renewer(plan))
    assert outcome.status == SendStatus.SENT and outcome.attempts == 3
    _db.session.expire_all()
    assert _db.session.get(type(message), message.id).claimed_until > first_lease + timedelta(seconds=40)


def test_the_tick_is_on_rqs_cron_at_every_whole_minute(app, redis_client):
    """Reminders fall due at a whole minute (the shop's 前日 HH:MM): the tick runs then, not 60 s after a start."""
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=redis_client, name="test-line-cron")
    with app.app_context():
        cron_job = scheduling.register_cron(scheduler)
    assert cron_job.cron == "* * * * *"
    nxt = cron_job.get_next_enqueue_time()
    assert nxt == nxt.replace(second=0, microsecond=0)
    assert cron_job.args == (jobs.job_path(scheduling.tick),)


def test_after_redis_lost_its_keys_the_recovery_arms_the_timed_releases_again(app, chat, line_shop, rq_queue,
                                                                             monkeypatch):
    from rq.registry import ScheduledJobRegistry

    monkeypatch.setitem(app.config, "JOBS_MODE", "rq")
    customer, friend, user = chat
    due = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    scheduling.schedule_text(friend, "一時間後", sender_id=None, scheduled_at=due)
    jobs.commit()
    registry = ScheduledJobRegistry(app.config["RQ_QUEUE"], connection=rq_queue)
    release = f"crm-line-release-{int(due.timestamp())}"
    assert release in registry.get_job_ids()
    for key in rq_queue.scan_iter(f"*{app.config['RQ_QUEUE']}*"):  # Redis flushed: the timed job is gone
        rq_queue.delete(key)
    assert registry.get_job_ids() == []
    assert scheduling.watch_jobs() == "redis"
    jobs.commit()
    [job] = Queue(app.config["RQ_QUEUE"], connection=rq_queue).jobs
    assert job.args == (jobs.job_path(scheduling.recover),)
    job.delete()
    assert jobs.run_job(*job.args)["armed"] == 1
    assert release in registry.get_job_ids() and registry.get_scheduled_time(release) == due
    assert sent_texts(line_shop) == []  # not before its time
    assert scheduling.watch_jobs() is None
