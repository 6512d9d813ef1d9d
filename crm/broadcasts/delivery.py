"""Sending a broadcast's batches exactly once per recipient.

A batch is claimed (SENDING, with a lease) and committed before LINE is
called; its multicast retry key, and each push recipient's key, were committed
when the broadcast was prepared.  So a batch resumed after a killed worker or a
flushed Redis calls LINE again with the same keys: LINE answers 409 for what it
had accepted, and nothing is delivered twice.  429 (rate limit) and 5xx are
retried with backoff (Retry-After when LINE gives one); pushes are paced under
BROADCAST_PUSH_RATE per process (LINE allows 2,000 requests a second per channel).
"""
import logging
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import gettext as _
from linebot.v3.messaging import MulticastRequest, PushMessageRequest

from crm import jobs
from crm.broadcasts import compose
from crm.broadcasts.calls import Pacer, call, pacer, thread_apis, threads
from crm.broadcasts.models import (
    BatchStatus,
    Broadcast,
    BroadcastBatch,
    BroadcastRecipient,
    BroadcastStatus,
    RecipientStatus,
)
from crm.conversations.models import Direction, LineMessage, Origin, SendStatus
from crm.database import skip_locked, utcnow
from crm.extensions import db
from crm.shops.models import LineChannel, Shop

log = logging.getLogger(__name__)


def lease_seconds() -> float:
    """BROADCAST_LEASE_SECONDS: how long a claimed batch stays SENDING without a renewal."""
    return float(current_app.config["BROADCAST_LEASE_SECONDS"])


Outcome = tuple[RecipientStatus, str | None, str | None]  # calls.call's (status, failure reason, request id)


@dataclass
class _Recipient:
    id: int
    customer_id: int | None
    friend_id: int | None
    line_user_id: str
    retry_key: str | None
    messages: list[dict] = field(default_factory=list)


@dataclass
class _Plan:
    batch_id: int
    broadcast_id: int
    shop_id: int
    mode: str
    token: str
    retry_key: str
    messages: list[dict]  # the multicast's (the same for everyone)
    recipients: list[_Recipient]
    lease_until: datetime


def _claim(batch_id: int) -> _Plan | None:
    stmt = (sa.select(BroadcastBatch).where(BroadcastBatch.id == batch_id)
            .execution_options(populate_existing=True))
    batch = db.session.scalars(skip_locked(stmt)).first()
    now = utcnow()
    if batch is None or batch.status == BatchStatus.DONE or batch.status == BatchStatus.CANCELLED:
        return None
    if batch.status == BatchStatus.SENDING and batch.claimed_until and batch.claimed_until > now:
        return None  # another worker holds it
    broadcast = db.session.get(Broadcast, batch.broadcast_id)
    shop = db.session.get(Shop, batch.shop_id)
    if broadcast is None or shop is None:  # deleted with it (ON DELETE CASCADE): nothing to send
        return None
    in_range = sa.and_(BroadcastRecipient.broadcast_id == batch.broadcast_id,
                       BroadcastRecipient.status == RecipientStatus.PENDING,
                       BroadcastRecipient.id.between(batch.first_recipient_id, batch.last_recipient_id))
    if broadcast.status != BroadcastStatus.SENDING:  # cancelled: this batch never goes out
        db.session.execute(sa.update(BroadcastRecipient).where(in_range)
                           .values(status=RecipientStatus.CANCELLED).execution_options(synchronize_session=False))
        batch.status, batch.updated_at = BatchStatus.CANCELLED, now
        _finish_if_done(broadcast.id)
        return None
    if broadcast.mode not in ("multicast", "push"):  # prepare.py sets it in the transaction that starts SENDING
        raise RuntimeError(f"broadcast {broadcast.id} is sending without a mode")
    channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == batch.shop_id)).first()
    # Disconnected since it was prepared: no token; deliver_batch fails these recipients (the broadcast still ends).
    token = (channel.channel_access_token if channel is not None else None) or ""
    rows = db.session.execute(sa.select(BroadcastRecipient.id, BroadcastRecipient.customer_id,
                                        BroadcastRecipient.friend_id, BroadcastRecipient.line_user_id,
                                        BroadcastRecipient.retry_key).where(in_range)
                              .order_by(BroadcastRecipient.id)).all()
    recipients = [_Recipient(*row) for row in rows]
    messages = compose.messages_for(broadcast.text, shop.name, None, broadcast.coupon_id)
    if broadcast.mode == "push":
        people = compose.people([r.customer_id for r in recipients if r.customer_id], shop, now)
        nobody = compose.Person("", "")
        for r in recipients:
            person = people.get(r.customer_id, nobody) if r.customer_id is not None else nobody
            r.messages = compose.messages_for(broadcast.text, shop.name, person, broadcast.coupon_id)
    batch.status, batch.attempts, batch.updated_at = BatchStatus.SENDING, batch.attempts + 1, now
    batch.claimed_until = now + timedelta(seconds=lease_seconds())
    return _Plan(batch.id, broadcast.id, batch.shop_id, broadcast.mode, token, batch.retry_key,
                 messages, recipients, batch.claimed_until)


def _multicast(app: Flask, plan: _Plan) -> Outcome:
    with app.app_context():  # the SDK client reads the app's timeout; reasons are translated
        apis = thread_apis(app, plan.token)
        request = MulticastRequest.from_dict({"to": [r.line_user_id for r in plan.recipients],
                                              "messages": plan.messages})
        return call(lambda: apis.messaging.multicast_with_http_info(request, x_line_retry_key=plan.retry_key))


def _push(app: Flask, plan: _Plan, recipient: _Recipient, pacer: Pacer) -> Outcome:
    with app.app_context():
        apis = thread_apis(app, plan.token)
        request = PushMessageRequest.from_dict({"to": recipient.line_user_id, "messages": recipient.messages})

        def send() -> Any:
            pacer.wait()
            return apis.messaging.push_message_with_http_info(request, x_line_retry_key=recipient.retry_key)

        return call(send)


def _renew(plan: _Plan) -> None:
    until = utcnow() + timedelta(seconds=lease_seconds())
    db.session.execute(sa.update(BroadcastBatch).where(BroadcastBatch.id == plan.batch_id,
                                                       BroadcastBatch.status == BatchStatus.SENDING)
                       .values(claimed_until=until).execution_options(synchronize_session=False))
    db.session.commit()
    plan.lease_until = until


def _wait_renewing(plan: _Plan, pending: set[Future[Outcome]]) -> None:
    """Wait for the calls, renewing the batch's lease while they last."""
    while pending:
        _done, pending = wait(pending, timeout=lease_seconds() / 3, return_when=FIRST_COMPLETED)
        if pending and utcnow() >= plan.lease_until - timedelta(seconds=lease_seconds() / 2):
            _renew(plan)


def _run(plan: _Plan) -> dict[int, Outcome]:
    """Call LINE for the plan on the sending threads; the lease is renewed from here meanwhile."""
    # The stubs type current_app as Flask; it is a LocalProxy, which has this method.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    pool = threads()
    if plan.mode == "multicast":
        multicast = pool.submit(_multicast, app, plan)
        _wait_renewing(plan, {multicast})
        outcome = multicast.result()
        return {r.id: outcome for r in plan.recipients}
    pace = pacer()
    futures = {pool.submit(_push, app, plan, r, pace): r.id for r in plan.recipients}
    _wait_renewing(plan, set(futures))
    return {rid: future.result() for future, rid in futures.items()}


def _history(plan: _Plan, sent: list[_Recipient], now: datetime) -> None:
    """One LineMessage per recipient who got it (一斉配信 in their LINE tab), inserted in bulk."""
    rows = []
    for r in sent:
        if r.friend_id is None:
            continue
        messages = r.messages or plan.messages
        first = messages[0]
        rows.append({
            "shop_id": plan.shop_id, "friend_id": r.friend_id, "direction": Direction.OUTGOING,
            "message_type": first["type"], "text": first.get("text") or _("クーポン"),
            "payload": {"messages": messages}, "sent_at": now, "status": SendStatus.SENT, "via": "push" if plan.mode == "push" else "multi",
            "attempts": 1, "origin": Origin.BROADCAST.value, "origin_id": plan.broadcast_id,
            "created_at": now, "updated_at": now,
        })
    if rows:
        db.session.execute(sa.insert(LineMessage), rows)


def _record(plan: _Plan, outcomes: dict[int, Outcome]) -> None:
    now = utcnow()
    by_status: dict[RecipientStatus, list[_Recipient]] = {}
    for r in plan.recipients:
        by_status.setdefault(outcomes[r.id][0], []).append(r)
    for status, recipients in by_status.items():
        ids = [r.id for r in recipients]
        for start in range(0, len(ids), 500):
            db.session.execute(sa.update(BroadcastRecipient)
                               .where(BroadcastRecipient.id.in_(ids[start:start + 500]),
                                      BroadcastRecipient.status == RecipientStatus.PENDING)
                               .values(status=status).execution_options(synchronize_session=False))
    failed = [{"rid": r.id, "reason": (outcomes[r.id][1] or "")[:200]}
              for s in (RecipientStatus.FAILED, RecipientStatus.BLOCKED) for r in by_status.get(s, [])]
    if failed:
        table = BroadcastRecipient.__table__  # Core: an executemany, not the ORM's bulk update by primary key
        db.session.execute(sa.update(table).where(table.c.id == sa.bindparam("rid"))
                           .values(failure_reason=sa.bindparam("reason")), failed)
    _history(plan, by_status.get(RecipientStatus.SENT, []), now)
    request_ids = [o[2] for o in outcomes.values() if o[2]]
    db.session.execute(sa.update(BroadcastBatch).where(BroadcastBatch.id == plan.batch_id).values(
        status=BatchStatus.DONE, claimed_until=None, updated_at=now,
        sent_count=BroadcastBatch.sent_count + len(by_status.get(RecipientStatus.SENT, [])),
        failed_count=BroadcastBatch.failed_count + len(by_status.get(RecipientStatus.FAILED, [])),
        blocked_count=BroadcastBatch.blocked_count + len(by_status.get(RecipientStatus.BLOCKED, [])),
        request_id=request_ids[0] if request_ids else None,
        failure_reason=next((o[1] for o in outcomes.values() if o[0] == RecipientStatus.FAILED), None),
    ).execution_options(synchronize_session=False))
    _finish_if_done(plan.broadcast_id)


def _finish_if_done(broadcast_id: int) -> bool:
    """Mark the broadcast finished once no batch is open; the row lock makes the last two batches agree."""
    stmt = sa.select(Broadcast.id).where(Broadcast.id == broadcast_id)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    db.session.execute(stmt)
    open_batches = sa.exists().where(BroadcastBatch.broadcast_id == broadcast_id,
                                     BroadcastBatch.status.in_([BatchStatus.PENDING, BatchStatus.SENDING]))
    now = utcnow()
    done = db.session.execute(
        sa.update(Broadcast).where(Broadcast.id == broadcast_id,
                                   Broadcast.status.in_([BroadcastStatus.SENDING, BroadcastStatus.CANCELLED]),
                                   Broadcast.finished_at.is_(None), ~open_batches)
        .values(status=sa.case((Broadcast.status == BroadcastStatus.SENDING, BroadcastStatus.DONE.value),
                               else_=Broadcast.status), finished_at=now, updated_at=now)
        # An UPDATE's Result is a CursorResult; Session.execute is typed as returning the base Result.
        .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    return bool(done)


def deliver_batch(batch_id: int) -> int:
    """Job: claim a batch, call LINE for it, record each recipient; returns how many were sent."""
    plan = _claim(batch_id)
    db.session.commit()
    if plan is None or not plan.recipients:
        if plan is not None:
            _record(plan, {})
        return 0
    if plan.token:
        outcomes = _run(plan)
    else:
        reason = _("LINEチャネルが設定されていません。")
        outcomes = {r.id: (RecipientStatus.FAILED, reason, None) for r in plan.recipients}
    _record(plan, outcomes)
    return sum(1 for o in outcomes.values() if o[0] == RecipientStatus.SENT)


def sweep_batches(now: datetime | None = None, pending_after: timedelta = timedelta(minutes=5)) -> int:
    """Re-enqueue batches whose job was lost: SENDING past their lease, or PENDING for a long while."""
    now = now or utcnow()
    ids = db.session.scalars(sa.select(BroadcastBatch.id).where(sa.or_(
        sa.and_(BroadcastBatch.status == BatchStatus.SENDING, BroadcastBatch.claimed_until < now),
        sa.and_(BroadcastBatch.status == BatchStatus.PENDING, BroadcastBatch.updated_at < now - pending_after),
    )).order_by(BroadcastBatch.id)).all()
    for batch_id in ids:
        jobs.enqueue_after_commit(deliver_batch, batch_id)
    # A broadcast whose last batches finished together (or were cancelled) is closed here at the latest.
    for broadcast_id in db.session.scalars(sa.select(Broadcast.id).where(
            Broadcast.status.in_([BroadcastStatus.SENDING, BroadcastStatus.CANCELLED]),
            Broadcast.finished_at.is_(None), Broadcast.started_at.is_not(None))).all():
        _finish_if_done(broadcast_id)
    return len(ids)
