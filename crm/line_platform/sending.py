"""The one send pipeline for every outgoing LINE message.

A row is written before any call.  A fresh, unused reply token is used when
there is one (replies are free); otherwise a push carrying an X-Line-Retry-Key
generated once per message, so no retry ever delivers twice.

A reply carries no retry key, so a reply whose outcome is unknown (a timeout,
a connection broken after the request went out, a 5xx) is never followed by
an automatic push: the message becomes 送信状況を確認できません and staff
decide whether to 再送.  Only a definite refusal (a 4xx such as 400 "Invalid
reply token", or a connection that was never made) falls back to push.

Claims and their leases: claims.py; the calls to LINE: calls.py.
"""
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from crm.conversations.models import Direction, LineFriend, LineMessage, SendStatus
from crm.database import utcnow
from crm.errors import UserError
from crm.extensions import db
from crm.jobs import enqueue, enqueue_after_commit, take_pending
from crm.line_platform import calls, claims
from crm.line_platform.claims import EventReply  # noqa: F401  (queue_messages' reply=, for callers)
from crm.line_platform.outgoing import StoredImage, image_message, sticker_message

log = logging.getLogger(__name__)

MAX_TEXT_UTF16_UNITS = 5000
MAX_MESSAGES_PER_REQUEST = 5


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


def _outgoing_row(friend, messages, sender=None, origin=None, origin_id=None, origin_label=None, reply=None,
                  scheduled_at=None):
    """A QUEUED outgoing row (not yet added): validated, with its retry key."""
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
        origin=origin,
        origin_id=origin_id,
        scheduled_at=scheduled_at,
    )
    if origin_label:
        row.payload["origin_label"] = origin_label
    if reply is not None:
        row.payload["reply"] = reply.as_payload()
    # The inbox sorts by the last message either way, and its live check reads this column.
    if friend.last_message_at is None or row.sent_at > friend.last_message_at:
        friend.last_message_at = row.sent_at
    return row


def queue_messages(friend, messages, sender=None, origin=None, origin_id=None, origin_label=None, reply=None,
                   enqueue=True):
    """Write an outgoing message row (up to 5 LINE message objects) and enqueue its delivery.

    ``origin``/``origin_id``/``origin_label``: what wrote it when no staff did (自動応答 and its rule).
    ``reply``: an automatic answer's own event (``EventReply``): it replies with that
    event's token, never another one, and is pushed only if ``reply.push_when_late``.
    ``enqueue=False``: the caller enqueues its delivery (queue_image_with_text: one after the other).
    """
    row = _outgoing_row(friend, messages, sender=sender, origin=origin, origin_id=origin_id,
                        origin_label=origin_label, reply=reply)
    db.session.add(row)
    db.session.flush()
    if enqueue:
        enqueue_after_commit(deliver, row.id)
    return row


@dataclass(frozen=True)
class Outgoing:
    """One message of queue_many: to whom, what, and what wrote it."""

    friend: LineFriend
    messages: list
    origin_id: int | None = None
    scheduled_at: datetime | None = None  # set: always pushed, with its retry key (as a 送信予約)


def queue_many(items: list[Outgoing], origin=None, origin_label=None) -> list[LineMessage]:
    """Write many automatic messages in one flush; deliver them after the commit in batches (deliver_many).

    For work that writes many messages at once (the reminders falling due at one
    minute): one INSERT round trip instead of one per row, and LINE_DELIVER_BATCH
    messages per job, pushed concurrently, instead of one job each.
    """
    rows = [_outgoing_row(item.friend, item.messages, origin=origin, origin_id=item.origin_id,
                          origin_label=origin_label, scheduled_at=item.scheduled_at) for item in items]
    if not rows:
        return rows
    db.session.add_all(rows)
    db.session.flush()
    for batch in batches(sorted(row.id for row in rows)):
        enqueue_after_commit(deliver_many, batch)
    return rows


def batches(message_ids: list[int]) -> list[list[int]]:
    """The ids in chunks of LINE_DELIVER_BATCH, one deliver_many job each."""
    size = max(1, int(current_app.config["LINE_DELIVER_BATCH"]))
    return [message_ids[start:start + size] for start in range(0, len(message_ids), size)]


def take_queued() -> list[int]:
    """The messages queued in this transaction, taken out of the jobs waiting for its commit.

    The event drain delivers them itself right after its commit (deliver_many): the answers to
    the events it applied (自動応答, 予約を確認する) are not left in the queue behind other work,
    as a reply token lasts about a minute.
    """
    return [args[0] for args in take_pending(deliver)]


def queue_text(friend, text, sender=None, **origin):
    """Queue one text message from a staff member (or, with queue_messages' origin arguments, an automatic one)."""
    validate_text(text)
    return queue_messages(friend, [{"type": "text", "text": text}], sender=sender, **origin)


def queue_image(friend, image: StoredImage, sender=None, enqueue=True) -> LineMessage:
    """Queue one stored image (original and preview); LINE gets signed URLs when it is sent."""
    row = queue_messages(friend, [image_message(image)], sender=sender, enqueue=enqueue)
    row.media_path, row.media_content_type, row.media_status = image.key, image.content_type, "stored"
    return row


def queue_image_with_text(friend, image: StoredImage, text: str, sender=None) -> tuple[LineMessage, LineMessage]:
    """The composer's image and its text: two rows, delivered by one job in that order.

    Two jobs would run side by side (threads, or two workers) and the customer could
    get the text before the photo it is about.
    """
    validate_text(text)
    picture = queue_image(friend, image, sender=sender, enqueue=False)
    words = queue_messages(friend, [{"type": "text", "text": text}], sender=sender, enqueue=False)
    enqueue_after_commit(deliver_in_order, [picture.id, words.id])
    return picture, words


def queue_sticker(friend, package_id: str, sticker_id: str, sender=None) -> LineMessage:
    """Queue one sticker (the caller checked it is one LINE lets bots send)."""
    return queue_messages(friend, [sticker_message(package_id, sticker_id)], sender=sender)


def deliver(message_id, stale_after=claims.LEGACY_STALE_AFTER):
    """Job: hand one outgoing message to LINE (reply if possible, else push with its retry key).

    Three steps, so that no transaction (and no SQLite write lock or
    PostgreSQL row lock) is held while LINE is called: claim and commit,
    call LINE, record the outcome (committed by the job runner).
    """
    plan = claims.claim(message_id, stale_after)
    db.session.commit()
    if plan is None:
        return db.session.get(LineMessage, message_id)
    outcome = calls.call_line(plan, renew=claims.renewer(plan))
    return claims.record(plan, outcome)


def deliver_in_order(message_ids):
    """Job: deliver the messages one after the other (each with deliver's three steps)."""
    return [deliver(message_id) for message_id in message_ids]


def resend(message: LineMessage) -> LineMessage:
    """再送: push a message whose reply could not be confirmed, with its retry key; enqueued after the commit.

    A guarded status change, so two clicks (or two staff) resend it once.
    """
    changed = db.session.execute(  # an UPDATE's result is a CursorResult, which has rowcount
        sa.update(LineMessage)
        .where(LineMessage.id == message.id, LineMessage.status == SendStatus.UNCONFIRMED)
        .values(status=SendStatus.QUEUED, updated_at=utcnow(), failure_reason=None)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not changed:
        raise NotResendable(_("このメッセージは再送できません。"))
    db.session.refresh(message)
    enqueue_after_commit(deliver, message.id)
    return message


def deliver_many(message_ids, stale_after=claims.LEGACY_STALE_AFTER):
    """Job: deliver a batch (e.g. scheduled messages falling due together) with the same three steps.

    Claim every message in one transaction, call LINE for them concurrently
    (``LINE_SEND_THREADS``, reusing one connection per thread), record every
    outcome (committed by the job runner).  A worker killed in between leaves
    the claimed rows 送信中; the sweep resends them with their retry keys,
    which LINE accepts once.  The claims' leases are renewed from this
    thread while the calls last (the sending threads never touch the database).
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    plans = claims.claim_many(list(message_ids), stale_after)
    db.session.commit()
    if not plans:
        return []
    caller = calls.BatchCaller(current_app._get_current_object())
    threads = max(1, min(len(plans), int(current_app.config["LINE_SEND_THREADS"])))
    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="crm-line-send") as pool:
            futures = {pool.submit(caller, plan): plan for plan in plans}
            pending = set(futures)
            while pending:
                _done, pending = wait(pending, timeout=claims.lease_seconds() / 3, return_when=FIRST_COMPLETED)
                unfinished = [futures[f] for f in pending]
                if unfinished and utcnow() >= min(p.lease_until for p in unfinished) - timedelta(
                        seconds=claims.lease_seconds() / 2):
                    claims.renew(unfinished, utcnow())
            outcomes = [future.result() for future in futures]
    finally:
        caller.close()
    rows = {row.id: row for row in db.session.scalars(
        sa.select(LineMessage).where(LineMessage.id.in_([p.message_id for p in plans]))
        .execution_options(populate_existing=True))}
    return [claims.record(plan, outcome, rows[plan.message_id]) for plan, outcome in zip(plans, outcomes, strict=False)]


def sweep_outgoing(stale_after=claims.LEGACY_STALE_AFTER, queued_after=timedelta(minutes=1)):
    """Re-enqueue messages whose job was lost (Redis flushed, worker killed: its claim's lease ran out).

    A QUEUED row is taken once it has waited ``queued_after`` (its job may simply be
    waiting in the queue); when Redis is known to have lost its jobs, 0.  The
    rows go out in batches (deliver_many), which claim only what is still to send,
    so a job that was not lost after all costs nothing twice.
    """
    now = utcnow()
    ids = db.session.scalars(
        sa.select(LineMessage.id).where(
            LineMessage.direction == Direction.OUTGOING,
            sa.or_(
                # updated_at: when it was queued (written, or released by 送信予約)
                sa.and_(LineMessage.status == SendStatus.QUEUED, LineMessage.updated_at < now - queued_after),
                sa.and_(LineMessage.status == SendStatus.SENDING, sa.or_(
                    LineMessage.claimed_until < now,
                    sa.and_(LineMessage.claimed_until.is_(None), LineMessage.updated_at < now - stale_after))),
            ),
        )
    ).all()
    for batch in batches(sorted(ids)):
        enqueue(deliver_many, batch)
    return len(ids)
