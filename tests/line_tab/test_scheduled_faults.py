"""Fault test: a real rq worker process killed in the middle of a batch of scheduled sends, Redis flushed.

After a restart and a tick every message is delivered exactly once: the
database says what is not sent yet, the state change (QUEUED → SENDING → SENT)
stops a second worker, and the retry key makes LINE refuse a repeat of a push
it already accepted (409).

The worker and its scratch database come from tests.plugins.rq_worker.
"""
import time
from datetime import timedelta

import sqlalchemy as sa
from flask_migrate import upgrade

from crm import jobs
from crm.conversations.models import LineMessage, SendStatus
from crm.database import utcnow
from crm.extensions import db
from crm.line_platform.services import channel_for_shop, save_channel
from crm.line_tab import scheduling
from tests import factories
from tests.plugins.rq_worker import RqWorker, worker_env

PUSH = "/v2/bot/message/push"
MESSAGES = 30


def _statuses(app):
    with app.app_context():
        try:
            rows = db.session.execute(sa.select(LineMessage.status, LineMessage.retry_key)).all()
            return [(status, key) for status, key in rows]
        finally:
            db.session.remove()


def test_a_killed_worker_and_a_flushed_redis_deliver_every_message_exactly_once(
        fault_app, scratch_database_url, line_sandbox, tmp_path, redis_client):
    redis = redis_client  # this run's own database (tests.plugins.redis_db): flushing it disturbs no one
    redis.flushdb()
    app = fault_app
    bot = line_sandbox.add_channel(bot_name="障害テストサロン")
    with app.app_context():
        upgrade()
        shop, owner = factories.make_shop(name="障害テストサロン")
        save_channel(channel_for_shop(shop.id), bot["channel_id"], bot["channel_secret"], bot["channel_access_token"])
        due = utcnow() + timedelta(seconds=1)
        for n in range(MESSAGES):
            user = line_sandbox.add_user(display_name=f"客{n}")
            line_sandbox.set_friendship(bot["channel_id"], user["user_id"], "friend")
            customer = factories.make_customer(shop, family_name=f"障害{n}")
            friend = factories.make_friend(shop, customer, line_user_id=user["user_id"])
            scheduling.schedule_text(friend, f"予約メッセージ{n}", sender_id=owner.id, scheduled_at=due)
        jobs.commit()
        db.session.remove()

    env = worker_env(scratch_database_url, line_sandbox.url, LINE_DELIVER_BATCH="6", LINE_SEND_THREADS="3")
    # Each push takes a while, so a batch is in flight when the worker dies.
    line_sandbox.fault(PUSH, delay_seconds=0.15, times=10_000)
    worker = RqWorker(env, tmp_path / "worker.log")
    restarted = None
    try:
        time.sleep(max(0.0, (due - utcnow()).total_seconds()))
        with app.app_context():
            assert scheduling.release_due() == MESSAGES  # as the timed job or the tick would
            jobs.commit()  # the deliveries go to Redis
            db.session.remove()

        # Kill as soon as LINE has accepted a message the database still calls 送信中.
        killed_mid_batch = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            accepted = set(line_sandbox.retry_keys(bot["channel_id"]))
            if any(s == SendStatus.SENDING and k in accepted for s, k in _statuses(app)):
                worker.kill()
                killed_mid_batch = True
                break
            time.sleep(0.01)
        assert killed_mid_batch, worker.output()
        redis.flushdb()  # the queued jobs are gone too

        statuses = [s for s, _ in _statuses(app)]
        assert SendStatus.SENDING in statuses and statuses.count(SendStatus.SENT) < MESSAGES
        line_sandbox.clear_faults()

        restarted = RqWorker(env, tmp_path / "worker-2.log")
        with app.app_context():
            # Minutes later for the sweep: a row left 送信中 or 待ち is stale (the clock moved, not the data).
            for row in db.session.scalars(
                    sa.select(LineMessage).where(LineMessage.status.in_([SendStatus.SENDING, SendStatus.QUEUED]))):
                row.updated_at = row.updated_at - timedelta(minutes=10)
                if row.claimed_until is not None:  # the killed worker's lease ran out long ago
                    row.claimed_until = row.claimed_until - timedelta(minutes=10)
            db.session.commit()
            result = scheduling.tick()
            jobs.commit()
            db.session.remove()
        assert result["resent"] > 0 and result["released"] == 0

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(s == SendStatus.SENT for s, _ in _statuses(app)):
                break
            time.sleep(0.1)
        final = _statuses(app)
        assert [s for s, _ in final] == [SendStatus.SENT] * MESSAGES, restarted.output()

        # Exactly once: every retry key accepted once, one delivery per message, no other deliveries.
        keys = line_sandbox.retry_keys(bot["channel_id"])
        assert keys == {key: 1 for _, key in final}
        sent = line_sandbox.sent(bot["channel_id"])
        texts = sorted(m["text"] for s in sent for m in s["messages"])
        assert texts == sorted(f"予約メッセージ{n}" for n in range(MESSAGES))
        assert all(s["via"] == "push" for s in sent)
        # The resent message that LINE had already accepted was refused with 409, not delivered again.
        pushes = [r["status"] for r in line_sandbox.requests(bot["channel_id"]) if r["path"] == PUSH]
        assert 409 in pushes
    finally:
        worker.kill()
        if restarted is not None:
            restarted.kill()
        redis.flushdb()
        redis.close()
        with app.app_context():
            db.engine.dispose()
