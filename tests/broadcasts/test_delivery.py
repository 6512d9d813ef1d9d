"""Delivery against the sandbox: multicast in batches, pushes with placeholders, blocked and opted-out
customers, quota refusal, coupon, cancel mid-run, 429 backoff, and resuming a batch after a crash."""
import pytest
import sqlalchemy as sa

from crm import jobs
from crm.broadcasts import calls, delivery, prepare, services
from crm.broadcasts.models import (
    BatchStatus,
    Broadcast,
    BroadcastBatch,
    BroadcastRecipient,
    BroadcastStatus,
    RecipientStatus,
)
from crm.broadcasts.quota import QuotaExceeded
from crm.conversations.models import LineMessage, Origin
from crm.database import utcnow
from crm.extensions import db
from tests.broadcasts.helpers import everyone, friends

MULTICAST, PUSH = "/v2/bot/message/multicast", "/v2/bot/message/push"


@pytest.fixture(autouse=True)
def _small_batches(app, monkeypatch):
    monkeypatch.setitem(app.config, "BROADCAST_BATCH_SIZE", 3)
    monkeypatch.setitem(app.config, "BROADCAST_RETRY_WAIT", 0.01)
    monkeypatch.setattr(calls, "_sleep", lambda seconds: None)


def _broadcast(line_shop, text="今月のおすすめです", coupon=None, definition=None):
    b = services.save(line_shop.shop, line_shop.owner, None, "6月", definition or everyone(), text, coupon)
    return b


def _send(line_shop, broadcast):
    services.submit(broadcast, line_shop.shop, line_shop.owner, None)
    jobs.commit()  # sync jobs: prepare, then every batch
    db.session.expire_all()
    return db.session.get(Broadcast, broadcast.id)


def _calls(line_shop, path):
    return [r for r in line_shop.sandbox.requests(line_shop.sandbox_channel["channel_id"]) if r["path"] == path]


def test_one_message_for_everyone_goes_as_multicasts_of_the_batch_size(line_shop):
    people = friends(line_shop, 7)
    blocked = friends(line_shop, 1, prefix="ブロック", followed=False)
    opted = friends(line_shop, 1, prefix="停止", broadcast_opt_out=True)
    b = _send(line_shop, _broadcast(line_shop, "{店舗名}より、今月のおすすめです"))
    assert b.status == BroadcastStatus.DONE and b.mode == "multicast"
    calls = _calls(line_shop, MULTICAST)
    assert [len(c["body"]["to"]) for c in calls] == [3, 3, 1]
    assert all(c["headers"]["X-Line-Retry-Key"] for c in calls)
    assert {c["headers"]["X-Line-Retry-Key"] for c in calls} == set(db.session.scalars(sa.select(BroadcastBatch.retry_key)))
    sent = line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])
    assert sorted(s["to"] for s in sent) == sorted(u["user_id"] for _, _, u in people)
    assert sent[0]["messages"][0]["text"] == f"{line_shop.shop.name}より、今月のおすすめです"
    progress = services.progress(b)
    assert (progress.total, progress.sent, progress.blocked, progress.failed) == (8, 7, 1, 0)
    assert opted[0][0].id not in set(db.session.scalars(sa.select(BroadcastRecipient.customer_id)))
    # History: one 一斉配信 message per recipient in their LINE tab.
    history = db.session.scalars(sa.select(LineMessage).where(LineMessage.origin == Origin.BROADCAST.value)).all()
    assert sorted(m.friend_id for m in history) == sorted(f.id for _, f, _ in people)
    assert {m.origin_id for m in history} == {b.id}
    assert blocked[0][1].id not in {m.friend_id for m in history}


def test_placeholders_make_pushes_with_one_retry_key_each(line_shop):
    people = friends(line_shop, 4)
    b = _send(line_shop, _broadcast(line_shop, "{お客様名}様、次回のご予約: {次回予約}"))
    assert b.mode == "push" and b.status == BroadcastStatus.DONE
    calls = _calls(line_shop, PUSH)
    assert len(calls) == 4
    keys = {c["headers"]["X-Line-Retry-Key"] for c in calls}
    assert keys == set(db.session.scalars(sa.select(BroadcastRecipient.retry_key)))
    texts = sorted(s["messages"][0]["text"] for s in line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"]))
    assert texts == sorted(f"{c.family_name} 様子様、次回のご予約: ご予約はありません" for c, _, _ in people)


def test_a_friend_who_blocked_since_is_counted_blocked(line_shop):
    people = friends(line_shop, 2)
    line_shop.sandbox.set_friendship(line_shop.sandbox_channel["channel_id"], people[0][2]["user_id"], "blocked")
    b = _send(line_shop, _broadcast(line_shop, "{お客様名}様"))
    progress = services.progress(b)
    assert (progress.sent, progress.blocked) == (1, 1)


def test_quota_refuses_and_says_by_how_much(line_shop):
    line_shop.sandbox.add_channel(channel_id=line_shop.sandbox_channel["channel_id"], quota=5,
                                  channel_secret=line_shop.sandbox_channel["channel_secret"],
                                  channel_access_token=line_shop.sandbox_channel["channel_access_token"])
    friends(line_shop, 7)
    b = _broadcast(line_shop)
    with pytest.raises(QuotaExceeded, match="2通超える"):
        services.submit(b, line_shop.shop, line_shop.owner, None)
    assert _calls(line_shop, MULTICAST) == []


def test_an_empty_segment_cannot_be_sent(line_shop):
    b = _broadcast(line_shop)
    with pytest.raises(services.BroadcastError):
        services.submit(b, line_shop.shop, line_shop.owner, None)


def test_a_coupon_is_created_at_line_and_sent_as_a_coupon_message(line_shop):
    friends(line_shop, 2)
    coupon = {"title": "カット10%オフ", "description": "", "reward": "discount", "amount": 500, "until": "2099-12-31"}
    b = _send(line_shop, _broadcast(line_shop, "クーポンをどうぞ", coupon=coupon))
    assert b.coupon_id
    sent = line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])
    assert all(s["messages"][1] == {"type": "coupon", "couponId": b.coupon_id} for s in sent)
    created = [r for r in line_shop.sandbox.requests(line_shop.sandbox_channel["channel_id"])
               if r["path"] == "/v2/bot/coupon"]
    assert created[0]["status"] == 200 and created[0]["body"]["reward"]["priceInfo"]["fixedAmount"] == 500


def test_429_is_retried_with_the_same_key_and_delivers_once(line_shop):
    friends(line_shop, 2)
    line_shop.sandbox.fault(MULTICAST, status=429, times=2)
    b = _send(line_shop, _broadcast(line_shop))
    assert services.progress(b).sent == 2
    calls = _calls(line_shop, MULTICAST)
    assert [c["status"] for c in calls] == [429, 429, 200]
    assert len({c["headers"]["X-Line-Retry-Key"] for c in calls}) == 1


def test_a_batch_resumed_after_a_crash_is_not_delivered_twice(line_shop, monkeypatch):
    friends(line_shop, 5)
    b = _broadcast(line_shop, "{お客様名}様")
    services.submit(b, line_shop.shop, line_shop.owner, None)
    db.session.info.pop("pending_jobs", None)
    db.session.commit()
    prepare.prepare(b.id)
    db.session.info.pop("pending_jobs", None)  # the batch jobs are lost (Redis flushed)
    batch_ids = db.session.scalars(sa.select(BroadcastBatch.id).order_by(BroadcastBatch.id)).all()
    # The worker calls LINE for the first batch, then dies before recording anything.
    real_record = delivery._record
    monkeypatch.setattr(delivery, "_record", lambda plan, outcomes: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        delivery.deliver_batch(batch_ids[0])
    db.session.rollback()
    monkeypatch.setattr(delivery, "_record", real_record)
    # The tick finds the batch past its lease, and the pending one, and sends them.
    db.session.execute(sa.update(BroadcastBatch).values(claimed_until=utcnow().replace(year=2000),
                                                        updated_at=utcnow().replace(year=2000)))
    assert services.tick()["batches_resent"] == 2
    jobs.commit()
    db.session.expire_all()
    assert db.session.get(Broadcast, b.id).status == BroadcastStatus.DONE
    keys = line_shop.sandbox.retry_keys(line_shop.sandbox_channel["channel_id"])
    assert len(keys) == 5 and set(keys.values()) == {1}
    assert len(line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])) == 5
    assert 409 in [c["status"] for c in _calls(line_shop, PUSH)]
    assert services.progress(db.session.get(Broadcast, b.id)).sent == 5
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LineMessage)
                             .where(LineMessage.origin == Origin.BROADCAST.value)) == 5


def test_cancel_mid_run_stops_within_one_batch(line_shop):
    friends(line_shop, 7)
    b = _broadcast(line_shop)
    services.submit(b, line_shop.shop, line_shop.owner, None)
    db.session.info.pop("pending_jobs", None)
    prepare.prepare(b.id)
    db.session.info.pop("pending_jobs", None)
    batch_ids = db.session.scalars(sa.select(BroadcastBatch.id).order_by(BroadcastBatch.id)).all()
    delivery.deliver_batch(batch_ids[0])
    services.cancel(db.session.get(Broadcast, b.id))
    for batch_id in batch_ids[1:]:
        delivery.deliver_batch(batch_id)
    db.session.expire_all()
    b = db.session.get(Broadcast, b.id)
    assert b.status == BroadcastStatus.CANCELLED and b.finished_at is not None
    progress = services.progress(b)
    assert (progress.sent, progress.cancelled) == (3, 4)
    assert len(_calls(line_shop, MULTICAST)) == 1
    assert {s for s in db.session.scalars(sa.select(BroadcastBatch.status))} == {BatchStatus.DONE, BatchStatus.CANCELLED}


def test_a_scheduled_broadcast_is_released_by_the_tick(line_shop):
    from datetime import timedelta

    friends(line_shop, 2)
    b = _broadcast(line_shop)
    services.submit(b, line_shop.shop, line_shop.owner, utcnow() + timedelta(hours=1))
    assert b.status == BroadcastStatus.SCHEDULED
    assert services.tick()["broadcasts_released"] == 0
    services.tick(utcnow() + timedelta(hours=2))
    jobs.commit()
    db.session.expire_all()
    assert db.session.get(Broadcast, b.id).status == BroadcastStatus.DONE
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BroadcastRecipient)
                             .where(BroadcastRecipient.status == RecipientStatus.SENT)) == 2


def test_a_channel_without_a_token_since_prepared_fails_its_recipients_and_the_broadcast_ends(line_shop):
    from crm.shops.models import LineChannel

    friends(line_shop, 4)
    b = _broadcast(line_shop)
    services.submit(b, line_shop.shop, line_shop.owner, None)
    db.session.info.pop("pending_jobs", None)
    prepare.prepare(b.id)
    db.session.info.pop("pending_jobs", None)
    db.session.execute(sa.update(LineChannel).where(LineChannel.shop_id == line_shop.shop.id)
                       .values(channel_access_token=None))
    for batch_id in db.session.scalars(sa.select(BroadcastBatch.id).order_by(BroadcastBatch.id)).all():
        assert delivery.deliver_batch(batch_id) == 0
    db.session.expire_all()
    b = db.session.get(Broadcast, b.id)
    assert b.status == BroadcastStatus.DONE and b.finished_at is not None
    assert services.progress(b).failed == 4
    assert set(db.session.scalars(sa.select(BroadcastRecipient.failure_reason))) == {"LINEチャネルが設定されていません。"}
    assert not _calls(line_shop, MULTICAST)
