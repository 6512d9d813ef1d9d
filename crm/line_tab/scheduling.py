"""送信予約: messages written now and sent at a chosen time, through the one send pipeline.

A scheduled message is a LineMessage with status SCHEDULED and ``scheduled_at``
(UTC, from a date and time the staff chose in the shop's timezone); its retry
key is set once, when it is written.  PostgreSQL is the source of truth:

* ``release_due(now)`` flips due rows SCHEDULED → QUEUED in one guarded
  UPDATE (a row is released once, whoever runs it) and enqueues their delivery
  after the commit; ``deliver`` claims only QUEUED rows, so nothing is sent
  early and a cancelled or edited-later row is never sent.
* On time: with rq, each due second gets one timed job (``Queue.enqueue_at``,
  run by a worker started with the scheduler) that calls ``release_due``.
* Safety net: ``tick()`` (``flask crm tick``, rq cron at every whole minute, or
  the in-process ticker in development) releases what is due and re-enqueues
  queued or stale sending messages, so a Redis flush or a killed worker loses
  nothing; the retry key makes a resend after a crash harmless at LINE.  Each
  worker notices within a second that jobs were lost (Redis emptied, a worker
  killed: ``watch_jobs``) and runs ``recover`` at once instead of waiting for
  the minute.
* HELD rows (a shop that is no longer premium) are never released.
"""
import logging
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from crm import job_watch, jobs
from crm.autoreply.reminders import send_due_reminders
from crm.conversations.models import Direction, LineMessage, SendStatus
from crm.conversations.read_state import fire_reminders
from crm.database import skip_locked, utcnow
from crm.extensions import db
from crm.jobs import run_worker_job
from crm.line_platform.claims import lease_seconds
from crm.line_platform.drain import sweep_unprocessed
from crm.line_platform.media import sweep_pending_media
from crm.line_platform.outgoing import StoredImage, image_message, stored_image_of
from crm.line_platform.sending import (
    deliver_many,
    sweep_outgoing,
    validate_text,
)
from crm.line_tab.held import hold_lapsed
from crm.line_tab.times import NotEditable

log = logging.getLogger(__name__)

EDITABLE = (SendStatus.SCHEDULED, SendStatus.HELD)


def _release_job_id(when):
    return f"crm-line-release-{int(when.timestamp())}"


def _arm(scheduled_at):
    """With rq: one timed job per due second releases what is due then (after the commit)."""
    when = scheduled_at.replace(microsecond=0)
    if when < scheduled_at:
        when += timedelta(seconds=1)  # rq's scheduler counts whole seconds: never early
    jobs.enqueue_at_after_commit(when, release_due, job_id=_release_job_id(when))


# -- writing ----------------------------------------------------------------------------
def _by_client_key(shop_id, client_key):
    return db.session.scalars(
        sa.select(LineMessage).where(LineMessage.shop_id == shop_id, LineMessage.client_key == client_key)
    ).first()


def _messages(text, image):
    """The payload's messages: the image first (as storage keys, signed when sent), then the text if any."""
    if image is None or text.strip():
        validate_text(text)
    messages = [image_message(image)] if image is not None else []
    if text.strip() or image is None:
        messages.append({"type": "text", "text": text})
    return messages


def image_of(message) -> StoredImage | None:
    """The image a scheduled message carries, or None."""
    first = ((message.payload or {}).get("messages") or [{}])[0]
    return stored_image_of(first)


def schedule_text(friend, text, sender_id, scheduled_at, approved_by_id=None, client_key=None,
                  image: StoredImage | None = None):
    """Write a SCHEDULED message (its text, or its image and text); the same client key twice gives the first row back.

    The image is kept as storage keys: its signed URLs are made when it is sent, as queue_image's are.
    """
    messages = _messages(text, image)
    if scheduled_at.tzinfo is None:
        raise ValueError("scheduled_at must be aware")
    if client_key:
        existing = _by_client_key(friend.shop_id, client_key)
        if existing is not None:
            return existing
    row = LineMessage(
        shop_id=friend.shop_id,
        friend_id=friend.id,
        direction=Direction.OUTGOING,
        message_type="image" if image is not None else "text",
        text=text if text.strip() or image is None else None,
        payload={"messages": messages},
        status=SendStatus.SCHEDULED,
        scheduled_at=scheduled_at,
        sent_at=scheduled_at,  # where it shows in the conversation until it is sent
        sender_id=sender_id,
        approved_by_id=approved_by_id,
        retry_key=str(uuid.uuid4()),
        client_key=client_key,
    )
    if image is not None:  # shown in the conversation (line_platform.media) like a sent image
        row.media_path, row.media_content_type, row.media_status = image.key, image.content_type, "stored"
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        existing = _by_client_key(friend.shop_id, client_key) if client_key else None
        if existing is None:
            raise
        return existing  # the same composition submitted at the same moment
    _arm(scheduled_at)
    return row


def edit_scheduled(message, text, scheduled_at):
    """Change the text and time of a message until its sending starts (a guarded UPDATE); its image stays."""
    image = image_of(message)
    messages = _messages(text, image)
    result = db.session.execute(
        sa.update(LineMessage)
        .where(LineMessage.id == message.id, LineMessage.status.in_(EDITABLE))
        .values(text=text if text.strip() or image is None else None, payload={"messages": messages},
                scheduled_at=scheduled_at, sent_at=scheduled_at, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(message)
    if result.rowcount != 1:
        raise NotEditable(_("送信が始まったため、この予約は変更できません。"))
    _arm(scheduled_at)
    return message


def cancel_scheduled(message):
    """Cancel a message until its sending starts (a guarded UPDATE): it is never sent."""
    result = db.session.execute(
        sa.update(LineMessage)
        .where(LineMessage.id == message.id, LineMessage.status.in_(EDITABLE))
        .values(status=SendStatus.CANCELLED, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(message)
    if result.rowcount != 1:
        raise NotEditable(_("送信が始まったため、この予約は取り消せません。"))
    return message


# -- releasing --------------------------------------------------------------------------
def release_due(now=None):
    """Flip due SCHEDULED messages to QUEUED and enqueue their delivery after the commit.

    One UPDATE ... RETURNING: concurrent callers (two schedulers, a timed job
    and the tick) each get disjoint ids.  Returns how many were released.
    """
    now = now or utcnow()
    hold_lapsed(now)  # a shop whose trial just ended: its messages are held (保留), not sent
    due = sa.and_(LineMessage.status == SendStatus.SCHEDULED, LineMessage.scheduled_at <= now)
    # Rows another releaser holds are skipped, not waited for; the guarded UPDATE releases each once.
    where = LineMessage.id.in_(
        skip_locked(sa.select(LineMessage.id).where(due).order_by(LineMessage.scheduled_at)).scalar_subquery())
    ids = db.session.scalars(
        sa.update(LineMessage).where(where, LineMessage.status == SendStatus.SCHEDULED)
        .values(status=SendStatus.QUEUED, updated_at=now)
        .returning(LineMessage.id)
        .execution_options(synchronize_session=False)
    ).all()

    size = max(1, int(current_app.config["LINE_DELIVER_BATCH"]))
    ids = sorted(ids)
    for start in range(0, len(ids), size):
        jobs.enqueue_after_commit(deliver_many, ids[start:start + size])
    return len(ids)


def tick(now=None, stale_after=timedelta(minutes=5), queued_after=timedelta(minutes=1)):
    """The periodic safety net: release what is due, re-enqueue lost deliveries and events.

    Idempotent and safe to run from several schedulers at once.  The sweep
    runs first, so the messages released by this tick are enqueued once.
    ``queued_after``: how long a QUEUED message waits before its job counts as lost.
    """
    events = sweep_unprocessed()
    resent = sweep_outgoing(stale_after=stale_after, queued_after=queued_after)
    media = sweep_pending_media()
    released = release_due(now)
    reminders = send_due_reminders(now)  # 予約リマインダー: written once per booking, pushed like 送信予約
    reminded = fire_reminders(now)  # 後で通知 whose 通知する日時 came
    return {"released": released, "resent": resent, "events": events, "media": media, "reminders": reminders,
            "reminded": reminded}


def rearm(now=None):
    """Queue again the timed release job of every second a SCHEDULED message waits for; returns how many."""
    now = now or utcnow()
    seconds = set()
    for at in db.session.scalars(sa.select(LineMessage.scheduled_at).where(
            LineMessage.status == SendStatus.SCHEDULED, LineMessage.scheduled_at > now).distinct()):
        seconds.add(at.replace(microsecond=0) + timedelta(seconds=1) if at.microsecond else at)
    for when in seconds:
        jobs.enqueue_at_after_commit(when, release_due, job_id=_release_job_id(when))
    return len(seconds)


def recover():
    """Job: queued jobs were lost (Redis lost its keys, or a worker was killed with the job it had taken).

    PostgreSQL knows what they were for: the tick runs at once, taking every
    QUEUED message whatever its age (deliver_many claims only what is still to
    send, so a job that was not lost costs nothing twice), and the timed
    releases of 送信予約 are queued again.  What a lost worker had claimed
    (送信中) is taken by the tick that ``watch_jobs`` queues once a lease has passed.
    """
    result = tick(queued_after=timedelta(0))
    result["armed"] = rearm()
    return result


def watch_jobs():
    """Each worker, every second (``crm worker``): queue `recover` when jobs were lost, a tick a lease later."""
    lost = job_watch.watch_losses(recheck_after=lease_seconds() + 1)
    if lost in ("redis", "worker"):
        log.warning("queued jobs lost (%s): queueing the recovery", "Redis lost its keys" if lost == "redis"
                    else "a worker stopped without leaving")
        jobs.enqueue(recover)
    elif lost == "recheck":
        jobs.enqueue(tick)  # the lost worker's claims have run out by now
    return lost


def register_cron(scheduler, queue_name=None):
    """Register `tick` on an rq CronScheduler (``flask crm cron``): at every whole minute, through run_worker_job.

    At the minute, not every 60 s from the scheduler's start: reminders fall due at a
    whole minute (the shop's 前日 HH:MM) and are written by the tick.
    """
    queue_name = queue_name or current_app.config.get("RQ_QUEUE") or "default"
    return scheduler.register(run_worker_job, queue_name, args=(jobs.job_path(tick),), cron="* * * * *",
                              job_timeout=600, name="line-tick")
