"""Webhook events through rq on a real Redis: one drain job, processed by a worker, nothing lost."""

import pytest
import sqlalchemy as sa
from rq import Queue, SimpleWorker

from crm.conversations.models import LineMessage
from crm.extensions import db as _db
from crm.line_platform.models import LineWebhookEvent


@pytest.fixture
def rq_mode(app, rq_queue, monkeypatch):
    """Jobs through rq on this run's Redis, a queue of the test's own (tests.plugins.redis_db)."""
    monkeypatch.setitem(app.config, "JOBS_MODE", "rq")
    return rq_queue


def _text(user, n, ts):
    return {"type": "message", "mode": "active", "timestamp": ts, "webhookEventId": f"01RQ{n:022d}",
            "replyToken": f"r{n}", "source": {"type": "user", "userId": user},
            "deliveryContext": {"isRedelivery": False}, "message": {"id": str(9000 + n), "type": "text", "text": f"m{n}"}}


def test_a_workers_watch_queues_one_drain_job_that_processes_deliveries_in_time_order(app, client, line_shop, rq_mode):
    from crm.jobs import run_job
    from crm.line_platform.models import LineWebhookDelivery
    from crm.line_platform.watcher import watch_deliveries

    user = "U" + "f" * 32
    line_shop.post_events(client, [_text(user, 3, 1700000003000)])
    line_shop.post_events(client, [_text(user, 1, 1700000001000), _text(user, 2, 1700000002000)])
    queue = Queue(app.config["RQ_QUEUE"], connection=rq_mode)
    assert queue.count == 0  # the webhook requests asked nothing of Redis
    assert len(_db.session.scalars(sa.select(LineWebhookDelivery)).all()) == 2

    assert watch_deliveries() is True
    assert watch_deliveries() is True
    assert queue.count == 1  # the second poll found a drain already on its way

    # A worker takes the job; it runs in this test's transaction through run_job.
    job = queue.jobs[0]
    assert job.func_name == "crm.jobs.run_worker_job" and job.args == ("crm.line_platform.drain.drain_events",)
    run_job(*job.args)
    _db.session.expire_all()
    events = _db.session.scalars(sa.select(LineWebhookEvent)).all()
    assert len(events) == 3 and all(e.processed_at is not None for e in events)
    texts = _db.session.scalars(sa.select(LineMessage.text).order_by(LineMessage.sent_at)).all()
    assert texts == ["m1", "m2", "m3"]
    assert rq_mode.get(f"{app.config['RQ_QUEUE']}:crm:line-events:drain") is None  # the next delivery queues a new drain
    assert watch_deliveries() is False  # nothing waits


def test_a_flushed_redis_loses_no_event(app, client, line_shop, rq_mode):
    from crm.line_platform.drain import sweep_unprocessed

    line_shop.post_events(client, [_text("U" + "9" * 32, 7, 1700000007000)])
    for key in rq_mode.scan_iter(f"*{app.config['RQ_QUEUE']}*"):  # Redis lost the job and the flag
        rq_mode.delete(key)
    assert sweep_unprocessed() == 1  # PostgreSQL still knows what is unprocessed
    assert Queue(app.config["RQ_QUEUE"], connection=rq_mode).count == 1


def test_worker_process_runs_jobs_with_an_app_context(app, rq_mode):
    """SimpleWorker + run_worker_job, as `flask crm worker` runs them."""
    queue = Queue(app.config["RQ_QUEUE"], connection=rq_mode)
    queue.enqueue("crm.jobs.run_worker_job", "crm.line_platform.drain.drain_events")
    with app.app_context():
        worker = SimpleWorker([queue], connection=rq_mode)
        assert worker.work(burst=True)
    assert queue.count == 0
    assert len(queue.failed_job_registry) == 0


def test_with_redis_down_the_webhook_still_keeps_and_answers_and_the_watch_catches_up(app, client, line_shop, rq_mode,
                                                                                     monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from crm import jobs
    from crm.line_platform.models import LineWebhookDelivery
    from crm.line_platform.watcher import watch_deliveries

    class DownRedis:
        def set(self, *args, **kwargs):
            raise RedisConnectionError("Connection refused")

    real_connection = jobs.redis_connection
    monkeypatch.setattr(jobs, "redis_connection", lambda: DownRedis())
    assert line_shop.post_events(client, [_text("U" + "d" * 32, 8, 1700000008000)]).status_code == 200
    assert len(_db.session.scalars(sa.select(LineWebhookDelivery)).all()) == 1  # kept, not lost
    with pytest.raises(RedisConnectionError):
        watch_deliveries()  # the worker's watch fails for now, and polls again
    monkeypatch.setattr(jobs, "redis_connection", real_connection)  # Redis is back
    assert watch_deliveries() is True
    assert Queue(app.config["RQ_QUEUE"], connection=rq_mode).count == 1


def test_the_worker_watch_thread_queues_a_drain_for_a_new_delivery(app, client, line_shop, rq_mode, monkeypatch):
    import time

    from crm.line_platform.watcher import start_watcher

    monkeypatch.setitem(app.config, "DELIVERY_POLL_SECONDS", 0.05)
    line_shop.post_events(client, [_text("U" + "e" * 32, 9, 1700000009000)])
    queue = Queue(app.config["RQ_QUEUE"], connection=rq_mode)
    watcher = start_watcher(app)  # its own app context: the test's session is shared through the bound connection
    try:
        deadline = time.monotonic() + 5
        while queue.count == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watcher.stop()
    assert queue.count == 1
