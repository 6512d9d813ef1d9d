"""The one send pipeline for every outgoing LINE message.

A row is written before any call.  A fresh, unused reply token is used when
there is one (replies are free); otherwise a push carrying an X-Line-Retry-Key
generated once per message, so no retry ever delivers twice.

A reply carries no retry key, so a reply whose outcome is unknown (a timeout,
a connection broken after the request went out, a 5xx) is never followed by
an automatic push: the message becomes 送信状況を確認できません and staff
decide whether to 再送.  Only a definite refusal (a 4xx such as 400 "Invalid
reply token", or a connection that was never made) falls back to push.

A worker claims a message (送信中) with a short lease (``claimed_until``,
LINE_CLAIM_LEASE_SECONDS), renewed while its push retries; the tick resends
a message whose lease ran out (a killed worker) with the same retry key.
"""
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from linebot.v3.messaging import ApiException, PushMessageRequest, ReplyMessageRequest
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.exceptions import HTTPError as Urllib3Error

from crm.conversations.models import Direction, LineFriend, LineMessage, SendStatus
from crm.database import skip_locked, utcnow
from crm.errors import UserError
from crm.extensions import db
from crm.jobs import enqueue, enqueue_after_commit
from crm.line_platform.channels import line_error_reason, mark_misconfigured
from crm.line_platform.client import line_apis
from crm.shops.models import LineChannel

log = logging.getLogger(__name__)

MAX_TEXT_UTF16_UNITS = 5000
MAX_MESSAGES_PER_REQUEST = 5
# A row left 送信中 without a lease (claimed before leases existed) is resumed after this.
LEGACY_STALE_AFTER = timedelta(minutes=5)
_sleep = time.sleep  # tenacity's wait between push attempts (a test moves a frozen clock instead)


class SendRefused(UserError, ValueError):
    """The message cannot be sent as written; the text says why, in the user's language."""


class NotResendable(ValueError):
    """再送 of a message whose sending is not unconfirmed (already resent, or sent)."""


def utf16_units(text):
    """Length as LINE counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def validate_text(text):
    """Refuse empty text and text over LINE's limit before anything is stored or sent."""
    if not text or not text.strip():
        raise SendRefused(_("メッセージを入力してください。"))
    units = utf16_units(text)
    if units > MAX_TEXT_UTF16_UNITS:
        raise SendRefused(
            _("メッセージが長すぎます（%(units)d / %(limit)d 文字）。", units=units, limit=MAX_TEXT_UTF16_UNITS)
        )


def queue_messages(friend, messages, sender=None):
    """Write an outgoing message row (up to 5 LINE message objects) and enqueue its delivery."""
    if not 1 <= len(messages) <= MAX_MESSAGES_PER_REQUEST:
        raise SendRefused(_("一度に送れるメッセージは%(n)d件までです。", n=MAX_MESSAGES_PER_REQUEST))
    for message in messages:
        if message.get("type") == "text":
            validate_text(message.get("text", ""))
    first = messages[0]
    row = LineMessage(
        shop_id=friend.shop_id,
        friend_id=friend.id,
        direction=Direction.OUTGOING,
        message_type=first.get("type", "text"),
        text=first.get("text") if first.get("type") == "text" else first.get("altText"),
        payload={"messages": messages},
        status=SendStatus.QUEUED,
        sender_id=sender.id if sender is not None else None,
        retry_key=str(uuid.uuid4()),
        sent_at=utcnow(),
    )
    db.session.add(row)
    # The inbox sorts by the last message either way, and its live check reads this column.
    if friend.last_message_at is None or row.sent_at > friend.last_message_at:
        friend.last_message_at = row.sent_at
    db.session.flush()
    enqueue_after_commit(deliver, row.id)
    return row


def queue_text(friend, text, sender=None):
    """Queue one text message from a staff member."""
    validate_text(text)
    return queue_messages(friend, [{"type": "text", "text": text}], sender=sender)


def _transient(exc):
    if isinstance(exc, ApiException):
        return exc.status is None or exc.status == 429 or exc.status >= 500
    return isinstance(exc, (Urllib3Error, OSError))


@dataclass
class _Plan:
    """What one delivery needs, copied out of the ORM so no transaction stays open during calls."""

    message_id: int
    access_token: str
    to: str
    messages: list
    retry_key: str
    reply_token: str | None
    lease_until: object = None  # datetime: the claim's lease, moved on by _renewer


@dataclass
class _Outcome:
    status: SendStatus
    via: str
    attempts: int = 0
    reason: str | None = None
    request_id: str | None = None
    unauthorized: bool = False


def lease_seconds() -> float:
    """LINE_CLAIM_LEASE_SECONDS: how long a claim holds a message 送信中 without being renewed."""
    return float(setting("LINE_CLAIM_LEASE_SECONDS", 30))


def _lease_expired(row, now, stale_after=LEGACY_STALE_AFTER):
    if row.claimed_until is not None:
        return row.claimed_until <= now
    return row.updated_at <= now - stale_after


def _lock(message_id):
    stmt = sa.select(LineMessage).where(LineMessage.id == message_id).execution_options(populate_existing=True)
    return db.session.scalars(skip_locked(stmt)).first()


def _claim(message_id, stale_after=LEGACY_STALE_AFTER):
    """Mark the message 送信中 and spend a fresh reply token; None when there is nothing to do."""
    row = _lock(message_id)
    if row is None or row.direction != Direction.OUTGOING:
        return None
    now = utcnow()
    if row.status == SendStatus.SENDING and not _lease_expired(row, now, stale_after):
        return None  # another worker holds the claim
    if row.status not in (SendStatus.QUEUED, SendStatus.SENDING):
        return None
    friend = db.session.get(LineFriend, row.friend_id)
    channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == row.shop_id)).first()
    return _claim_row(row, friend, channel, now)


def _claim_many(message_ids, stale_after=LEGACY_STALE_AFTER):
    """_claim for a batch: the rows, their friends and channels in three queries, one flush."""
    stmt = (sa.select(LineMessage).where(LineMessage.id.in_(message_ids)).order_by(LineMessage.id)
            .execution_options(populate_existing=True))
    now = utcnow()
    rows = [
        row for row in db.session.scalars(skip_locked(stmt))
        if row.direction == Direction.OUTGOING and (
            row.status == SendStatus.QUEUED
            or (row.status == SendStatus.SENDING and _lease_expired(row, now, stale_after)))
    ]
    if not rows:
        return []
    friends = {f.id: f for f in db.session.scalars(
        sa.select(LineFriend).where(LineFriend.id.in_({r.friend_id for r in rows})))}
    channels = {c.shop_id: c for c in db.session.scalars(
        sa.select(LineChannel).where(LineChannel.shop_id.in_({r.shop_id for r in rows})))}
    plans = [_claim_row(row, friends[row.friend_id], channels.get(row.shop_id), now) for row in rows]
    return [plan for plan in plans if plan is not None]


def _claim_row(row, friend, channel, now):
    if channel is None or not channel.configured:
        _fail(row, _("LINEチャネルが設定されていません。"))
        return None
    if not friend.followed:
        _fail(row, _("この友だちにブロックされているため送信できません。"))
        return None
    reply_token = None
    ttl = timedelta(seconds=current_app.config["LINE_REPLY_TOKEN_TTL"])
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
    return _Plan(row.id, channel.channel_access_token, friend.line_user_id, row.payload["messages"],
                 row.retry_key, reply_token, row.claimed_until)


def _renew(plans, now, extra_seconds=0.0):
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


def _renewer(plan):
    """A callback for _call_line: renews the plan's lease once half of it has passed.

    ``extra_seconds``: a wait about to start (before a retry), added to the lease.
    """
    def renew(extra_seconds=0.0):
        now = utcnow()
        half = timedelta(seconds=lease_seconds() / 2)
        if extra_seconds or plan.lease_until is None or now >= plan.lease_until - half:
            try:
                _renew([plan], now, extra_seconds)
            except sa.exc.SQLAlchemyError:  # the send goes on; at worst the tick resends with the same key
                db.session.rollback()
                log.exception("could not renew the lease of LINE message %s", plan.message_id)
    return renew


def _never_sent(exc):
    """True when the request certainly did not reach LINE (the connection was never made)."""
    if isinstance(exc, MaxRetryError):
        exc = exc.reason
    return isinstance(exc, (NewConnectionError, ConnectTimeoutError, ConnectionRefusedError))


def _unconfirmed(plan, attempts, reason):
    log.warning("reply for message %s may or may not have reached LINE (%s); not pushing", plan.message_id, reason)
    return _Outcome(SendStatus.UNCONFIRMED, "reply", attempts, reason)


def _call_line(plan, apis=None, renew=None):
    """Reply if a token was claimed, else push with the retry key and retries. No database access.

    ``apis``: an open client for the plan's token (a batch reuses one per thread); else one is opened.
    ``renew``: called before each push attempt to keep the claim's lease (it may use the database).
    """
    attempts = 0
    if plan.reply_token:
        attempts += 1
        try:
            with _apis(plan, apis) as apis:
                response = apis.messaging.reply_message_with_http_info(
                    ReplyMessageRequest.from_dict({"replyToken": plan.reply_token, "messages": plan.messages})
                )
            return _Outcome(SendStatus.SENT, "reply", attempts, request_id=_request_id(response.headers))
        except ApiException as exc:
            if exc.status == 401:
                return _Outcome(SendStatus.FAILED, "reply", attempts, line_error_reason(exc), unauthorized=True)
            if not exc.status or exc.status >= 500:  # no answer, or LINE failed while handling it
                return _unconfirmed(plan, attempts, line_error_reason(exc))
            # A 4xx (400 "Invalid reply token"): LINE refused it, nothing was delivered.
            log.info("reply for message %s refused (%s); pushing instead", plan.message_id, line_error_reason(exc))
        except (Urllib3Error, OSError) as exc:
            if not _never_sent(exc):  # a timeout or a connection broken after the request went out
                return _unconfirmed(plan, attempts, _("LINEから応答がありませんでした: %(reason)s", reason=str(exc)))
            log.info("reply for message %s could not connect (%s); pushing instead", plan.message_id, exc)
    return _push(plan, attempts, apis, renew)


def _apis(plan, apis):
    from contextlib import nullcontext

    return nullcontext(apis) if apis is not None else line_apis(plan.access_token)


def _request_id(headers):
    headers = headers or {}
    return headers.get("x-line-request-id") or headers.get("x-line-accepted-request-id")


def _push(plan, attempts, apis=None, renew=None):
    config = current_app.config
    retrying = Retrying(
        sleep=lambda seconds: _sleep(seconds),
        before=(lambda state: renew()) if renew is not None else (lambda state: None),
        before_sleep=(lambda state: renew(state.next_action.sleep)) if renew is not None else None,
        stop=stop_after_attempt(config["LINE_SEND_ATTEMPTS"]),
        wait=wait_exponential_jitter(
            multiplier=config["LINE_RETRY_WAIT_MIN"], max=config["LINE_RETRY_WAIT_MAX"],
            jitter=config["LINE_RETRY_WAIT_MIN"],
        ),
        retry=retry_if_exception(_transient),
        reraise=True,
    )
    request = PushMessageRequest.from_dict({"to": plan.to, "messages": plan.messages})
    try:
        with _apis(plan, apis) as apis:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    try:
                        response = apis.messaging.push_message_with_http_info(
                            request, x_line_retry_key=plan.retry_key
                        )
                    except ApiException as exc:
                        if exc.status == 409:  # this retry key was already accepted: it was sent
                            return _Outcome(SendStatus.SENT, "push", attempts, request_id=_request_id(exc.headers))
                        raise
                    return _Outcome(SendStatus.SENT, "push", attempts, request_id=_request_id(response.headers))
    except ApiException as exc:
        return _Outcome(SendStatus.FAILED, "push", attempts, line_error_reason(exc), unauthorized=exc.status == 401)
    except (Urllib3Error, OSError) as exc:
        return _Outcome(SendStatus.FAILED, "push", attempts, _("LINEに接続できませんでした: %(reason)s", reason=str(exc)))


def _fail(row, reason):
    row.status = SendStatus.FAILED
    row.failure_reason = reason
    log.warning("LINE message %s failed: %s", row.id, reason)


def _record(plan, outcome, row=None):
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
        _fail(row, outcome.reason)
    if outcome.unauthorized:
        channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == row.shop_id)).first()
        mark_misconfigured(channel, outcome.reason)
    return row


def deliver(message_id, stale_after=LEGACY_STALE_AFTER):
    """Job: hand one outgoing message to LINE (reply if possible, else push with its retry key).

    Three steps, so that no transaction (and no SQLite write lock or
    PostgreSQL row lock) is held while LINE is called: claim and commit,
    call LINE, record the outcome (committed by the job runner).
    """
    plan = _claim(message_id, stale_after)
    db.session.commit()
    if plan is None:
        return db.session.get(LineMessage, message_id)
    outcome = _call_line(plan, renew=_renewer(plan))
    return _record(plan, outcome)


def resend(message: LineMessage) -> LineMessage:
    """再送: push a message whose reply could not be confirmed, with its retry key; enqueued after the commit.

    A guarded status change, so two clicks (or two staff) resend it once.
    """
    changed = db.session.execute(
        sa.update(LineMessage)
        .where(LineMessage.id == message.id, LineMessage.status == SendStatus.UNCONFIRMED)
        .values(status=SendStatus.QUEUED, updated_at=utcnow(), failure_reason=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise NotResendable(_("このメッセージは再送できません。"))
    db.session.refresh(message)
    enqueue_after_commit(deliver, message.id)
    return message


def setting(name, default):
    """A tuning knob: the app's config, else the environment, else the default."""
    import os

    value = current_app.config.get(name)
    return value if value is not None else os.environ.get(name, default)


class _BatchCaller:
    """Calls LINE for a batch's plans on a few threads, one open client per thread and token."""

    def __init__(self, app):
        import threading

        self.app = app
        self.local = threading.local()
        self.opened = []

    def __call__(self, plan):
        with self.app.app_context():
            clients = getattr(self.local, "clients", None)
            if clients is None:
                clients = self.local.clients = {}
            apis = clients.get(plan.access_token)
            if apis is None:
                opened = line_apis(plan.access_token)
                apis = clients[plan.access_token] = opened.__enter__()
                self.opened.append(opened)
            return _call_line(plan, apis)

    def close(self):
        for opened in self.opened:
            opened.__exit__(None, None, None)


def deliver_many(message_ids, stale_after=LEGACY_STALE_AFTER):
    """Job: deliver a batch (e.g. scheduled messages falling due together) with the same three steps.

    Claim every message in one transaction, call LINE for them concurrently
    (``LINE_SEND_THREADS``, reusing one connection per thread), record every
    outcome (committed by the job runner).  A worker killed in between leaves
    the claimed rows 送信中; the sweep resends them with their retry keys,
    which LINE accepts once.  The claims' leases are renewed from this
    thread while the calls last (the sending threads never touch the database).
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    plans = _claim_many(list(message_ids), stale_after)
    db.session.commit()
    if not plans:
        return []
    caller = _BatchCaller(current_app._get_current_object())
    threads = max(1, min(len(plans), int(setting("LINE_SEND_THREADS", 8))))
    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="crm-line-send") as pool:
            futures = {pool.submit(caller, plan): plan for plan in plans}
            pending = set(futures)
            while pending:
                _done, pending = wait(pending, timeout=lease_seconds() / 3, return_when=FIRST_COMPLETED)
                unfinished = [futures[f] for f in pending]
                if unfinished and utcnow() >= min(p.lease_until for p in unfinished) - timedelta(
                        seconds=lease_seconds() / 2):
                    _renew(unfinished, utcnow())
            outcomes = [future.result() for future in futures]
    finally:
        caller.close()
    rows = {row.id: row for row in db.session.scalars(
        sa.select(LineMessage).where(LineMessage.id.in_([p.message_id for p in plans]))
        .execution_options(populate_existing=True))}
    return [_record(plan, outcome, rows[plan.message_id]) for plan, outcome in zip(plans, outcomes)]


def sweep_outgoing(stale_after=LEGACY_STALE_AFTER):
    """Re-enqueue messages whose job was lost (Redis flushed, worker killed: its claim's lease ran out)."""
    now = utcnow()
    ids = db.session.scalars(
        sa.select(LineMessage.id).where(
            LineMessage.direction == Direction.OUTGOING,
            sa.or_(
                # updated_at: when it was queued (written, or released by 送信予約)
                sa.and_(LineMessage.status == SendStatus.QUEUED, LineMessage.updated_at < now - timedelta(minutes=1)),
                sa.and_(LineMessage.status == SendStatus.SENDING, sa.or_(
                    LineMessage.claimed_until < now,
                    sa.and_(LineMessage.claimed_until.is_(None), LineMessage.updated_at < now - stale_after))),
            ),
        )
    ).all()
    for message_id in ids:
        enqueue(deliver, message_id)
    return len(ids)
