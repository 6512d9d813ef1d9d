"""Fault test: a real rq worker killed (SIGKILL) in the middle of a broadcast's batches, Redis flushed.

After a new worker and the tick, every recipient has the broadcast exactly once: the batches and
recipients in the database say what is left, and the retry keys stored before each call make LINE
answer 409 for what it had already accepted.  Pushes ({お客様名}) so that a batch is in flight
when the worker dies.
"""
import time
from datetime import timedelta

import sqlalchemy as sa
from flask_migrate import upgrade

from crm import jobs
from crm.broadcasts import services
from crm.broadcasts.models import Broadcast, BroadcastBatch, BroadcastRecipient, BroadcastStatus, RecipientStatus
from crm.database import utcnow
from crm.extensions import db
from crm.line_platform.services import channel_for_shop, save_channel
from crm.shops.models import Shop
from crm.staff.models import Staff
from tests import factories
from tests.plugins.rq_worker import RqWorker, worker_env

PUSH = "/v2/bot/message/push"
RECIPIENTS = 24


def _recipients(app):
    with app.app_context():
        try:
            return db.session.execute(sa.select(BroadcastRecipient.status, BroadcastRecipient.retry_key)).all()
        finally:
            db.session.remove()


def test_a_killed_worker_and_a_flushed_redis_send_each_recipient_once(fault_app, scratch_database_url, line_sandbox,
                                                                      tmp_path, redis_client):
    redis_client.flushdb()
    app = fault_app
    bot = line_sandbox.add_channel(bot_name="配信障害テスト")
    with app.app_context():
        upgrade()
        shop, owner = factories.make_shop(name="配信障害テスト")
        save_channel(channel_for_shop(shop.id), bot["channel_id"], bot["channel_secret"], bot["channel_access_token"])
        for n in range(RECIPIENTS):
            user = line_sandbox.add_user(display_name=f"客{n}")
            line_sandbox.set_friendship(bot["channel_id"], user["user_id"], "friend")
            customer = factories.make_customer(shop, family_name=f"配信{n}")
            factories.make_friend(shop, customer, line_user_id=user["user_id"])
        broadcast = services.save(shop, owner, None, "障害", {"op": "and", "groups": []}, "{お客様名}様へ", None)
        jobs.commit()
        shop_id, owner_id, broadcast_id = shop.id, owner.id, broadcast.id
        db.session.remove()

    env = worker_env(scratch_database_url, line_sandbox.url, BROADCAST_BATCH_SIZE="6", BROADCAST_PUSH_THREADS="2")
    line_sandbox.fault(PUSH, delay_seconds=0.15, times=10_000)  # a batch takes a while: one is in flight
    worker = RqWorker(env, tmp_path / "worker.log")
    restarted = None
    try:
        with app.app_context():
            services.submit(db.session.get(Broadcast, broadcast_id), db.session.get(Shop, shop_id),
                            db.session.get(Staff, owner_id), None)
            jobs.commit()  # prepare goes to Redis
            db.session.remove()
        # Kill once LINE has accepted a push the database still calls pending.
        deadline, killed = time.monotonic() + 60, False
        while time.monotonic() < deadline:
            accepted = set(line_sandbox.retry_keys(bot["channel_id"]))
            if any(s == RecipientStatus.PENDING and k in accepted for s, k in _recipients(app)):
                worker.kill()
                killed = True
                break
            time.sleep(0.01)
        with app.app_context():
            b = db.session.get(Broadcast, broadcast_id)
            state = (b.status, b.failure_reason)
            db.session.remove()
        assert killed, (state, worker.output())
        redis_client.flushdb()
        line_sandbox.clear_faults()
        assert RecipientStatus.PENDING in [s for s, _ in _recipients(app)]

        restarted = RqWorker(env, tmp_path / "worker-2.log")
        with app.app_context():  # minutes later for the tick: the killed worker's lease ran out
            db.session.execute(sa.update(BroadcastBatch).values(
                claimed_until=utcnow() - timedelta(minutes=10), updated_at=utcnow() - timedelta(minutes=10)))
            db.session.commit()
            result = services.tick()
            jobs.commit()
            db.session.remove()
        assert result["batches_resent"] > 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with app.app_context():
                status = db.session.get(Broadcast, broadcast_id).status
                db.session.remove()
            if status == BroadcastStatus.DONE:
                break
            time.sleep(0.1)
        assert status == BroadcastStatus.DONE, restarted.output()
        final = _recipients(app)
        assert [s for s, _ in final] == [RecipientStatus.SENT] * RECIPIENTS
        keys = line_sandbox.retry_keys(bot["channel_id"])
        assert keys == {key: 1 for _, key in final}
        sent = line_sandbox.sent(bot["channel_id"])
        assert len(sent) == RECIPIENTS and len({s["to"] for s in sent}) == RECIPIENTS
        assert 409 in [r["status"] for r in line_sandbox.requests(bot["channel_id"]) if r["path"] == PUSH]
    finally:
        worker.kill()
        if restarted is not None:
            restarted.kill()
        redis_client.flushdb()
        with app.app_context():
            db.engine.dispose()
