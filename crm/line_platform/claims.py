"""Claiming outgoing messages for a delivery, and recording what LINE answered.

A worker claims a message (送信中) with a short lease (``claimed_until``,
LINE_CLAIM_LEASE_SECONDS), renewed while its push retries; the tick resends a
message whose lease ran out (a killed worker) with the same retry key. The
claim copies what the call needs into a Plan, so no transaction stays open
while LINE answers.
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from crm.conversations.models import Direction, LineFriend, LineMessage, SendStatus
from crm.database import skip_locked, utcnow
from crm.extensions import db
from crm.line_platform.channels import mark_misconfigured
from crm.line_platform.outgoing import to_line
from crm.shops.models import LineChannel

log = logging.getLogger(__name__)

# A row left 送信中 without a lease (claimed before leases existed) is resumed after this.
LEGACY_STALE_AFTER = timedelta(minutes=5)


@dataclass
class Plan:
    """What one delivery needs, copied out of the ORM so no transaction stays open during calls."""

    message_id: int
    access_token: str
    to: str
    messages: list
    retry_key: str
    reply_token: str | None
    lease_until: object = None  # datetime: the claim's lease, moved on by _renewer
    reply_only: bool = False  # an automatic answer: a refused reply token is not followed by a push


@dataclass(frozen=True)
class EventReply:
    """The reply token of the event an automatic answer answers, and whether a late answer may be pushed."""

    token: str
    received_at: datetime
    push_when_late: bool = False

    def as_payload(self):
        return {"token": self.token, "at": self.received_at.isoformat(), "push_when_late": self.push_when_late}


@dataclass
class Outcome:
    status: SendStatus
    via: str
    attempts: int = 0
    reason: str | None = None
    request_id: str | None = None
    unauthorized: bool = False


def lease_seconds() -> float:
    """LINE_CLAIM_LEASE_SECONDS: how long a claim holds a message 送信中 without being renewed."""
    return float(current_app.config["LINE_CLAIM_LEASE_SECONDS"])


def lease_expired(row, now, stale_after=LEGACY_STALE_AFTER):
    if row.claimed_until is not None:
        return row.claimed_until <= now
    return row.updated_at <= now - stale_after


def lock(message_id):
    stmt = sa.select(LineMessage).where(LineMessage.id == message_id).execution_options(populate_existing=True)
    return db.session.scalars(skip_locked(stmt)).first()


def claim(message_id, stale_after=LEGACY_STALE_AFTER):
    """Mark the message 送信中 and spend a fresh reply token; None when there is nothing to do."""
    row = lock(message_id)
    if row is None or row.direction != Direction.OUTGOING:
        return None
    now = utcnow()
    if row.status == SendStatus.SENDING and not lease_expired(row, now, stale_after):
        return None  # another worker holds the claim
    if row.status not in (SendStatus.QUEUED, SendStatus.SENDING):
        return None
    friend = db.session.get(LineFriend, row.friend_id)
    channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == row.shop_id)).first()
    return claim_row(row, friend, channel, now)


def claim_many(message_ids, stale_after=LEGACY_STALE_AFTER):
    """_claim for a batch: the rows, their friends and channels in three queries, one flush."""
    stmt = (sa.select(LineMessage).where(LineMessage.id.in_(message_ids)).order_by(LineMessage.id)
            .execution_options(populate_existing=True))
    now = utcnow()
    rows = [
        row for row in db.session.scalars(skip_locked(stmt))
        if row.direction == Direction.OUTGOING and (
            row.status == SendStatus.QUEUED
            or (row.status == SendStatus.SENDING and lease_expired(row, now, stale_after)))
    ]
    if not rows:
        return []
    friends = {f.id: f for f in db.session.scalars(
        sa.select(LineFriend).where(LineFriend.id.in_({r.friend_id for r in rows})))}
    channels = {c.shop_id: c for c in db.session.scalars(
        sa.select(LineChannel).where(LineChannel.shop_id.in_({r.shop_id for r in rows})))}
    plans = [claim_row(row, friends[row.friend_id], channels.get(row.shop_id), now) for row in rows]
    return [plan for plan in plans if plan is not None]


def claim_row(row, friend, channel, now):
    if channel is None or not channel.configured:
        fail(row, _("LINEチャネルが設定されていません。"))
        return None
    if not friend.followed:
        fail(row, _("この友だちにブロックされているため送信できません。"))
        return None
    reply_token = None
    ttl = timedelta(seconds=current_app.config["LINE_REPLY_TOKEN_TTL"])
    own = (row.payload or {}).get("reply")
    if own is not None:
        return claim_event_reply(row, friend, channel, now, ttl, own)
    # A message resumed after a crash never replies: only the retry key of a
    # push can tell LINE not to deliver it twice.  Scheduled messages always
    # push, so that a worker killed in the middle of a batch never repeats one.
    # A message tried before (再送 after an unconfirmed reply) pushes too.
    if (row.status == SendStatus.QUEUED and row.scheduled_at is None and not row.attempts and friend.reply_token
            and friend.reply_token_received_at > now - ttl):
        reply_token, friend.reply_token = friend.reply_token, None
    row.status = SendStatus.SENDING
    row.updated_at = now
    row.claimed_until = now + timedelta(seconds=lease_seconds())
    # Image keys become signed URLs now, so a 送信予約 months ahead still hands LINE fresh ones.
    return Plan(row.id, channel.channel_access_token, friend.line_user_id, to_line(row.payload["messages"]),
                 row.retry_key, reply_token, row.claimed_until)


def claim_event_reply(row, friend, channel, now, ttl, own):
    """An automatic answer replies with its own event's token while fresh; else it is pushed only if allowed."""
    fresh = datetime.fromisoformat(own["at"]) > now - ttl
    reply_only = not own.get("push_when_late")
    reply_token = None
    if row.status == SendStatus.QUEUED and not row.attempts and fresh:
        if friend.reply_token == own["token"]:
            friend.reply_token = None  # spent: nothing else replies with it
        reply_token = own["token"]
    elif reply_only:
        if row.status == SendStatus.SENDING:  # resumed after a crash: the reply may have gone out
            row.status = SendStatus.UNCONFIRMED
            row.failure_reason = _("自動応答の送信中に処理が中断されました。届いたか確認できません。")
            row.claimed_until = None
            return None
        fail(row, _("応答トークンの期限が切れたため、自動応答は送信しませんでした。"))
        return None
    row.status = SendStatus.SENDING
    row.updated_at = now
    row.claimed_until = now + timedelta(seconds=lease_seconds())
    return Plan(row.id, channel.channel_access_token, friend.line_user_id, row.payload["messages"],
                row.retry_key, reply_token, row.claimed_until, reply_only=reply_only)


def renew(plans, now, extra_seconds=0.0):
    """Move the leases of plans still being sent; one UPDATE, committed at once."""
    until = now + timedelta(seconds=lease_seconds() + extra_seconds)
    db.session.execute(
        sa.update(LineMessage)
        .where(LineMessage.id.in_([p.message_id for p in plans]), LineMessage.status == SendStatus.SENDING)
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    for plan in plans:
        plan.lease_until = until


def renewer(plan):
    """A callback for calls.call_line: renews the plan's lease once half of it has passed.

    ``extra_seconds``: a wait about to start (before a retry), added to the lease.
    """
    def renew_if_due(extra_seconds=0.0):
        now = utcnow()
        half = timedelta(seconds=lease_seconds() / 2)
        if extra_seconds or plan.lease_until is None or now >= plan.lease_until - half:
            try:
                renew([plan], now, extra_seconds)
            except sa.exc.SQLAlchemyError:  # the send goes on; at worst the tick resends with the same key
                db.session.rollback()
                log.exception("could not renew the lease of LINE message %s", plan.message_id)
    return renew_if_due


def fail(row, reason):
    row.status = SendStatus.FAILED
    row.failure_reason = reason
    log.warning("LINE message %s failed: %s", row.id, reason)


def record(plan, outcome, row=None):
    row = row if row is not None else db.session.get(LineMessage, plan.message_id)
    row.via = outcome.via
    row.attempts += outcome.attempts
    row.claimed_until = None
    if outcome.status == SendStatus.UNCONFIRMED:
        row.status = SendStatus.UNCONFIRMED
        row.failure_reason = outcome.reason
    elif outcome.status == SendStatus.SENT:
        row.status = SendStatus.SENT
        row.failure_reason = None
        row.sent_at = utcnow()
        row.line_request_id = outcome.request_id
    else:
        fail(row, outcome.reason)
    if outcome.unauthorized:
        channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == row.shop_id)).first()
        mark_misconfigured(channel, outcome.reason)
    return row
