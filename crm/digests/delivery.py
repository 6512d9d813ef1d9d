"""Delivering decided digests: claim each pending send once, push to LINE and send email, record.

See crm.digests.services for the whole tick.  LINE pushes carry the send's
stored retry key, so a push repeated after a crash is not delivered twice;
email is marked before the SMTP call, so it goes at most once.
"""
import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from crm.digests import line_notify, mail
from crm.digests.models import (
    ChannelStatus,
    DigestSend,
    Notification,
    NotificationSettings,
    SendStatus,
)
from crm.digests.render import email_message, line_messages
from crm.extensions import db
from crm.staff.models import Staff

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
DELIVER_BATCH = 50


def catch_up_window():
    """How long after its time a digest slot is still sent (DIGEST_CATCH_UP_MINUTES)."""
    return timedelta(minutes=current_app.config["DIGEST_CATCH_UP_MINUTES"])


def _claim(send_ids, now):
    """Claim pending (or stale) sends: a conditional UPDATE, so two schedulers never both win one."""
    stale = now - CLAIM_LEASE
    claimable = sa.or_(DigestSend.status == SendStatus.PENDING,
                       sa.and_(DigestSend.status == SendStatus.SENDING, DigestSend.claimed_at < stale))
    claimed = []
    for send_id in send_ids:
        updated = db.session.execute(
            sa.update(DigestSend).where(DigestSend.id == send_id, claimable)
            .values(status=SendStatus.SENDING, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        if updated.rowcount:
            claimed.append(send_id)
    return claimed


@dataclass
class _Job:
    send_id: int
    staff_id: int
    locale: str
    email: str
    line_user_id: str | None
    retry_key: str
    content: dict
    send_line: bool
    send_email: bool
    line_status: str | None = None
    line_error: str | None = None
    email_status: str | None = None
    email_error: str | None = None


def _plan_jobs(claimed, now):
    """Load what to send; too-late ones are skipped; email marked SENDING before any SMTP call (at most once)."""
    rows = db.session.execute(
        sa.select(DigestSend, Staff.locale, Staff.email, NotificationSettings.line_user_id, Notification.data)
        .join(Staff, Staff.id == DigestSend.staff_id)
        .outerjoin(NotificationSettings, NotificationSettings.staff_id == DigestSend.staff_id)
        .join(Notification, Notification.digest_send_id == DigestSend.id)
        .where(DigestSend.id.in_(claimed))
        .order_by(DigestSend.id)
        .execution_options(populate_existing=True)
    ).all()
    jobs = []
    for send, locale, email, line_user_id, content in rows:
        if now >= send.slot_at + catch_up_window():
            send.status = SendStatus.SKIPPED
            for attr in ("line_status", "email_status"):
                if getattr(send, attr) in (None, ChannelStatus.SENDING):
                    setattr(send, attr, ChannelStatus.FAILED)
            send.line_error = send.line_error or "skipped: too late"
            send.email_error = send.email_error or "skipped: too late"
            continue
        send_line = send.line_status in (None, ChannelStatus.SENDING) and bool(line_user_id)
        if send.line_status is None and not line_user_id:
            send.line_status = ChannelStatus.OFF  # disconnected since the slot was decided
        if send.email_status == ChannelStatus.SENDING:
            # A scheduler died between marking and recording this email: it may have gone out.
            send.email_status = ChannelStatus.FAILED
            send.email_error = "interrupted; not retried (at most once)"
        send_email = send.email_status is None
        if send_line:
            send.line_status = ChannelStatus.SENDING
        if send_email:
            send.email_status = ChannelStatus.SENDING
        jobs.append(_Job(send.id, send.staff_id, locale or "ja", email, line_user_id, send.line_retry_key,
                         content, send_line, send_email))
    return jobs


def _deliver_line(jobs):
    pending = [j for j in jobs if j.send_line]
    if not pending:
        return
    with line_notify.apis() as api:
        for job in pending:
            try:
                line_notify.push(api, job.line_user_id, line_messages(job.content, job.locale), job.retry_key)
                job.line_status = ChannelStatus.SENT
            except line_notify.PushFailed as exc:
                job.line_status = ChannelStatus.FAILED if exc.permanent else ChannelStatus.SENDING
                job.line_error = exc.reason[:2000]
                log.warning("digest %s: LINE push failed: %s", job.send_id, exc.reason)


def _deliver_email(jobs):
    pending = [j for j in jobs if j.send_email]
    if not pending:
        return
    with mail.connection() as smtp:
        for job in pending:
            try:
                smtp.send(email_message(job.content, job.locale, job.email, job.send_id))
                job.email_status = ChannelStatus.SENT
            except mail.MailError as exc:
                job.email_status = ChannelStatus.FAILED
                job.email_error = str(exc)[:2000]
                log.warning("digest %s: email failed: %s", job.send_id, exc)


def _record(jobs, now):
    for job in jobs:
        send = db.session.get(DigestSend, job.send_id)
        if job.send_line:
            send.line_status, send.line_error = job.line_status, job.line_error
        if job.send_email:
            send.email_status, send.email_error = job.email_status, job.email_error
        if send.line_status == ChannelStatus.SENDING:
            # A transient LINE failure: the claim lapses and the push is retried with the same key.
            continue
        send.status = SendStatus.SENT
        send.sent_at = now


def deliver_pending(now, result, send_ids=None):
    """Claim and deliver pending digests (and those whose claimer died), in batches."""
    stale = now - CLAIM_LEASE
    if send_ids is None:
        send_ids = db.session.scalars(
            sa.select(DigestSend.id).where(sa.or_(
                DigestSend.status == SendStatus.PENDING,
                sa.and_(DigestSend.status == SendStatus.SENDING, DigestSend.claimed_at < stale),
            )).order_by(DigestSend.id)
        ).all()
    for start in range(0, len(send_ids), DELIVER_BATCH):
        claimed = _claim(send_ids[start:start + DELIVER_BATCH], now)
        if not claimed:
            db.session.commit()
            continue
        jobs = _plan_jobs(claimed, now)
        db.session.commit()  # claims and email marks are durable before any call
        _deliver_line(jobs)
        _deliver_email(jobs)
        _record(jobs, now)
        db.session.commit()
        result.delivered += len(jobs)


# -- the tick ------------------------------------------------------------------------------------
