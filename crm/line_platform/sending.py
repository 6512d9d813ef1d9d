"""The one send pipeline for every outgoing LINE message.

A row is written before any call.  A fresh, unused reply token is used when
there is one (replies are free); otherwise a push carrying an X-Line-Retry-Key
generated once per message, so no retry ever delivers twice.
"""
import logging
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from linebot.v3.messaging import ApiException, PushMessageRequest, ReplyMessageRequest
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter
from urllib3.exceptions import HTTPError as Urllib3Error

from crm.database import utcnow
from crm.extensions import db
from crm.jobs import enqueue_after_commit
from crm.line_platform.channels import line_error_reason, mark_misconfigured
from crm.line_platform.client import line_apis
from crm.line_tab.models import Direction, LineFriend, LineMessage, SendStatus
from crm.shops.models import LineChannel

log = logging.getLogger(__name__)

MAX_TEXT_UTF16_UNITS = 5000
MAX_MESSAGES_PER_REQUEST = 5


class SendRefused(ValueError):
    """The message cannot be sent as written; the text says why, in the user's language."""


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
    db.session.flush()
    enqueue_after_commit("crm.line_platform.sending.deliver", row.id)
    return row


def queue_text(friend, text, sender=None):
    """Queue one text message from a staff member."""
    validate_text(text)
    return queue_messages(friend, [{"type": "text", "text": text}], sender=sender)


def _transient(exc):
    if isinstance(exc, ApiException):
        return exc.status is None or exc.status == 429 or exc.status >= 500
    return isinstance(exc, (Urllib3Error, OSError))


def _fail(row, reason):
    row.status = SendStatus.FAILED
    row.failure_reason = reason
    log.warning("LINE message %s failed: %s", row.id, reason)


def _lock(message_id):
    stmt = sa.select(LineMessage).where(LineMessage.id == message_id)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return db.session.scalars(stmt).first()


def deliver(message_id):
    """Job: hand one outgoing message to LINE (reply if possible, else push with its retry key)."""
    row = _lock(message_id)
    if row is None or row.direction != Direction.OUTGOING or row.status not in (SendStatus.QUEUED, SendStatus.SENDING):
        return row
    friend = db.session.get(LineFriend, row.friend_id)
    channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == row.shop_id)).first()
    if channel is None or not channel.configured:
        _fail(row, _("LINEチャネルが設定されていません。"))
        return row
    if not friend.followed:
        _fail(row, _("この友だちにブロックされているため送信できません。"))
        return row

    messages = row.payload["messages"]
    now = utcnow()
    ttl = timedelta(seconds=current_app.config["LINE_REPLY_TOKEN_TTL"])
    token = friend.reply_token
    fresh = token and friend.reply_token_received_at and friend.reply_token_received_at > now - ttl
    if row.status == SendStatus.QUEUED and fresh:
        # The token is spent before the call, and that is committed, so no other
        # message (or a rerun of this one) can try it again.
        friend.reply_token = None
        row.status = SendStatus.SENDING
        row.via = "reply"
        row.attempts += 1
        db.session.commit()
        try:
            with line_apis(channel.channel_access_token) as apis:
                response = apis.messaging.reply_message_with_http_info(
                    ReplyMessageRequest.from_dict({"replyToken": token, "messages": messages})
                )
            _sent(row, response.headers)
            return row
        except ApiException as exc:
            if exc.status == 401:
                mark_misconfigured(channel, line_error_reason(exc))
                _fail(row, line_error_reason(exc))
                return row
            log.info("reply failed for message %s (%s); pushing instead", row.id, line_error_reason(exc))
        except (Urllib3Error, OSError) as exc:
            log.info("reply failed for message %s (%s); pushing instead", row.id, exc)
    _push(row, friend, channel, messages)
    return row


def _sent(row, headers):
    row.status = SendStatus.SENT
    row.failure_reason = None
    row.sent_at = utcnow()
    row.line_request_id = (headers or {}).get("x-line-request-id") or (headers or {}).get("x-line-accepted-request-id")


def _push(row, friend, channel, messages):
    config = current_app.config
    row.status = SendStatus.SENDING
    row.via = "push"
    retrying = Retrying(
        stop=stop_after_attempt(config["LINE_SEND_ATTEMPTS"]),
        wait=wait_exponential_jitter(
            multiplier=config["LINE_RETRY_WAIT_MIN"], max=config["LINE_RETRY_WAIT_MAX"],
            jitter=config["LINE_RETRY_WAIT_MIN"],
        ),
        retry=retry_if_exception(_transient),
        reraise=True,
    )
    request = PushMessageRequest.from_dict({"to": friend.line_user_id, "messages": messages})
    try:
        with line_apis(channel.channel_access_token) as apis:
            for attempt in retrying:
                with attempt:
                    row.attempts += 1
                    try:
                        response = apis.messaging.push_message_with_http_info(
                            request, x_line_retry_key=row.retry_key
                        )
                    except ApiException as exc:
                        if exc.status == 409:  # this retry key was already accepted: it was sent
                            _sent(row, exc.headers)
                            return
                        raise
                    _sent(row, response.headers)
    except ApiException as exc:
        if exc.status == 401:
            mark_misconfigured(channel, line_error_reason(exc))
        _fail(row, line_error_reason(exc))
    except (Urllib3Error, OSError) as exc:
        _fail(row, _("LINEに接続できませんでした: %(reason)s", reason=str(exc)))


def sweep_outgoing(stale_after=timedelta(minutes=5)):
    """Re-enqueue messages whose job was lost (Redis flushed, worker killed)."""
    from crm.jobs import enqueue

    now = utcnow()
    ids = db.session.scalars(
        sa.select(LineMessage.id).where(
            LineMessage.direction == Direction.OUTGOING,
            sa.or_(
                sa.and_(LineMessage.status == SendStatus.QUEUED, LineMessage.created_at < now - timedelta(minutes=1)),
                sa.and_(LineMessage.status == SendStatus.SENDING, LineMessage.updated_at < now - stale_after),
            ),
        )
    ).all()
    for message_id in ids:
        enqueue("crm.line_platform.sending.deliver", message_id)
    return len(ids)
