"""Preparing a broadcast: quota, coupon, recipients and batches written before any message goes out.

``prepare`` runs as a job once a broadcast is QUEUED (send now, approved, or
due).  LINE is called first (quota, createCoupon) outside any transaction; then
one transaction writes every recipient (one INSERT ... SELECT from the segment
query, each push recipient's retry key generated in the same statement) and the
batches of 500 (each with its multicast retry key), and marks the broadcast
SENDING.  A worker killed before that commit leaves it QUEUED: the tick prepares
it again.  Then each batch is a job (delivery.deliver_batch).
"""
import logging
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from linebot.v3.messaging import ApiException, CouponCreateRequest
from urllib3.exceptions import HTTPError as Urllib3Error

from crm import jobs
from crm.broadcasts import compose, quota, segments
from crm.broadcasts.delivery import deliver_batch
from crm.broadcasts.models import (
    BatchStatus,
    Broadcast,
    BroadcastBatch,
    BroadcastRecipient,
    BroadcastStatus,
    RecipientStatus,
)
from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.database import skip_locked, utcnow
from crm.extensions import db
from crm.line_platform.channels import line_error_reason
from crm.line_platform.client import line_apis
from crm.shops.models import LineChannel, Shop

log = logging.getLogger(__name__)
MULTICAST_LIMIT = 500  # LINE's maximum recipients per multicast


def batch_size() -> int:
    """BROADCAST_BATCH_SIZE: recipients per batch (a multicast takes at most 500)."""
    return max(1, min(MULTICAST_LIMIT, int(current_app.config["BROADCAST_BATCH_SIZE"])))


def _uuid_sql() -> sa.ColumnElement:
    """A random UUID (text) made by the database, so 100,000 keys cost one statement."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.gen_random_uuid(), sa.String)
    # SQLite: version-4 layout from randomblob.
    return sa.literal_column(
        "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || "
        "substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))")


def _fail(broadcast_id: int, reason: str) -> None:
    db.session.execute(sa.update(Broadcast).where(Broadcast.id == broadcast_id,
                                                  Broadcast.status == BroadcastStatus.QUEUED)
                       .values(status=BroadcastStatus.FAILED, failure_reason=reason, finished_at=utcnow()))
    log.warning("broadcast %s not sent: %s", broadcast_id, reason)


def _create_coupon(token: str, coupon: dict, tz_name: str) -> str:
    body = compose.coupon_create_request(coupon, tz_name, utcnow())
    with line_apis(token) as apis:
        return apis.messaging.create_coupon(CouponCreateRequest.from_dict(body)).coupon_id


def prepare(broadcast_id: int) -> int:
    """Job: write the recipients and batches of a QUEUED broadcast and enqueue the batches; returns how many."""
    broadcast = db.session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.status != BroadcastStatus.QUEUED:
        return 0
    shop = db.session.get(Shop, broadcast.shop_id)
    if shop is None:  # deleted with its broadcasts (ON DELETE CASCADE)
        return 0
    channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == shop.id)).first()
    token = channel.channel_access_token if channel is not None and channel.configured else None
    definition, tz_name = broadcast.segment_definition, shop.timezone
    cost = segments.count(shop.id, definition, tz_name).reachable
    db.session.commit()  # no transaction (nor SQLite's write lock) while LINE is called
    if token is None:
        _fail(broadcast_id, _("LINEチャネルが設定されていません。"))
        return 0
    if cost == 0:
        _fail(broadcast_id, _("配信できるお客様がいません。"))
        return 0
    try:
        quota.check(quota.fetch(shop.id, exclude_id=broadcast_id), cost)
        coupon_id = broadcast.coupon_id
        if broadcast.coupon and not coupon_id:
            coupon_id = _create_coupon(token, broadcast.coupon, tz_name)
    except (quota.QuotaExceeded, quota.QuotaUnavailable) as exc:
        _fail(broadcast_id, exc.message)
        return 0
    except ApiException as exc:
        _fail(broadcast_id, _("クーポンを作成できませんでした: %(reason)s", reason=line_error_reason(exc)))
        return 0
    except (Urllib3Error, OSError) as exc:
        _fail(broadcast_id, _("LINEに接続できませんでした: %(reason)s", reason=str(exc)))
        return 0
    return _write(broadcast_id, coupon_id)


def _write(broadcast_id: int, coupon_id: str | None) -> int:
    stmt = sa.select(Broadcast).where(Broadcast.id == broadcast_id).execution_options(populate_existing=True)
    broadcast = db.session.scalars(skip_locked(stmt)).first()
    if broadcast is None or broadcast.status != BroadcastStatus.QUEUED:
        return 0  # cancelled meanwhile, or another worker prepared it
    shop = db.session.get(Shop, broadcast.shop_id)
    if shop is None:  # deleted with its broadcasts (ON DELETE CASCADE)
        return 0
    now = utcnow()
    personal = compose.is_personal(broadcast.text)
    segment = segments.where_clause(broadcast.segment_definition, shop.timezone, now)
    source = (
        sa.select(sa.literal(broadcast.id), Customer.id, LineFriend.id, LineFriend.line_user_id,
                  sa.case((LineFriend.followed.is_(True), RecipientStatus.PENDING.value),
                          else_=RecipientStatus.BLOCKED.value),
                  _uuid_sql() if personal else sa.null())
        .join(LineFriend, LineFriend.customer_id == Customer.id)
        .where(Customer.shop_id == shop.id, Customer.broadcast_opt_out.is_(False), segment)
        .order_by(Customer.id)
    )
    cols = ["broadcast_id", "customer_id", "friend_id", "line_user_id", "status", "retry_key"]
    db.session.execute(sa.insert(BroadcastRecipient).from_select(cols, source))
    ids = db.session.scalars(
        sa.select(BroadcastRecipient.id).where(BroadcastRecipient.broadcast_id == broadcast.id,
                                               BroadcastRecipient.status == RecipientStatus.PENDING)
        .order_by(BroadcastRecipient.id)).all()
    size = batch_size()
    batches = [{"broadcast_id": broadcast.id, "shop_id": shop.id, "first_recipient_id": ids[i],
                "last_recipient_id": ids[min(i + size, len(ids)) - 1], "status": BatchStatus.PENDING,
                "retry_key": str(uuid.uuid4()), "attempts": 0, "sent_count": 0, "failed_count": 0,
                "blocked_count": 0, "updated_at": now}
               for i in range(0, len(ids), size)]
    if batches:
        db.session.execute(sa.insert(BroadcastBatch), batches)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(BroadcastRecipient)
                              .where(BroadcastRecipient.broadcast_id == broadcast.id))
    broadcast.status = BroadcastStatus.SENDING if batches else BroadcastStatus.DONE
    broadcast.mode = "push" if personal else "multicast"
    broadcast.coupon_id = coupon_id
    broadcast.started_at = now
    broadcast.recipient_count = int(total or 0)
    if not batches:
        broadcast.finished_at = now
    db.session.flush()
    batch_ids = db.session.scalars(sa.select(BroadcastBatch.id).where(BroadcastBatch.broadcast_id == broadcast.id)
                                   .order_by(BroadcastBatch.id)).all()
    for batch_id in batch_ids:
        jobs.enqueue_after_commit(deliver_batch, batch_id)
    return len(batch_ids)


def release_due(now: datetime | None = None) -> int:
    """送信予約 that are due become QUEUED (one guarded UPDATE) and are prepared after the commit."""
    now = now or utcnow()
    ids = db.session.scalars(
        sa.update(Broadcast)
        .where(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.scheduled_at <= now)
        .values(status=BroadcastStatus.QUEUED, queued_at=now, updated_at=now)
        .returning(Broadcast.id).execution_options(synchronize_session=False)
    ).all()
    for broadcast_id in ids:
        jobs.enqueue_after_commit(prepare, broadcast_id)
    return len(ids)


def sweep_queued(now: datetime | None = None, stale_after: timedelta = timedelta(minutes=1)) -> int:
    """Prepare again the QUEUED broadcasts whose job was lost (Redis flushed, worker killed)."""
    now = now or utcnow()
    ids = db.session.scalars(sa.select(Broadcast.id).where(
        Broadcast.status == BroadcastStatus.QUEUED, Broadcast.queued_at < now - stale_after)).all()
    for broadcast_id in ids:
        jobs.enqueue_after_commit(prepare, broadcast_id)
    return len(ids)
