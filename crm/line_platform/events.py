"""Processing stored webhook events: friends, messages, unsend, edits, media."""
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from crm.database import utcnow
from crm.extensions import db
from crm.jobs import enqueue_after_commit
from crm.line_platform.models import LineWebhookDelivery, LineWebhookEvent
from crm.line_platform.webhook import parse_body, store_events
from crm.line_tab.models import Direction, LineFriend, LineMessage
from crm.shops.models import LineChannel

log = logging.getLogger(__name__)

MEDIA_TYPES = {"image", "video", "audio", "file"}
MAX_ATTEMPTS = 10  # after that an event waits for a person to look at its error


DRAIN_BATCH = 100


def drain_events():
    """Job: split waiting deliveries, then process every unprocessed event, oldest first, in batches.

    Several workers may share the work: rows are taken with SKIP LOCKED.
    """
    from crm.jobs import commit, drain_started

    drain_started(DRAIN_FLAG)
    processed, failed = 0, set()
    while True:
        split = split_deliveries(failed)
        stmt = (
            sa.select(LineWebhookEvent.id)
            .where(LineWebhookEvent.processed_at.is_(None), LineWebhookEvent.attempts < MAX_ATTEMPTS)
            .order_by(LineWebhookEvent.occurred_at, LineWebhookEvent.id)
            .limit(DRAIN_BATCH)
        )
        ids = db.session.scalars(_skip_locked(stmt)).all()
        if not ids and not split:
            return processed
        process_events(ids)
        commit()
        processed += len(ids)


def split_deliveries(failed, limit=DRAIN_BATCH):
    """Turn waiting deliveries into events, each webhookEventId stored once; returns how many were split.

    Deliveries that fail are added to `failed` and not tried again by this drain.
    """
    deliveries = db.session.scalars(
        _skip_locked(
            sa.select(LineWebhookDelivery)
            .where(LineWebhookDelivery.attempts < MAX_ATTEMPTS, LineWebhookDelivery.id.not_in(failed))
            .order_by(LineWebhookDelivery.id)
            .limit(limit)
        )
    ).all()
    split = []
    for delivery in deliveries:
        try:
            with db.session.begin_nested():
                # The body was parsed and checked before it was kept, so it parses again.
                store_events(delivery.shop_id, parse_body(delivery.body), delivery.received_at)
        except Exception as exc:  # kept with its error; the others go on
            log.exception("webhook delivery %s could not be split", delivery.id)
            delivery.attempts += 1
            delivery.error = f"{type(exc).__name__}: {exc}"[:2000]
            failed.add(delivery.id)
        else:
            split.append(delivery.id)
    if split:
        db.session.execute(sa.delete(LineWebhookDelivery).where(LineWebhookDelivery.id.in_(split)))
    return len(split)


def _skip_locked(stmt):
    if db.session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


DRAIN_FLAG = "crm:line-events:drain"


def process_events(event_ids):
    """Job: apply a delivery's events in order; one failing event does not hold up the others."""
    for event_id in event_ids:
        try:
            with db.session.begin_nested():
                process_event(event_id)
        except Exception as exc:  # recorded on the row; the sweep retries it later
            log.exception("webhook event %s failed", event_id)
            event = db.session.get(LineWebhookEvent, event_id)
            if event is not None:
                event.attempts += 1
                event.error = f"{type(exc).__name__}: {exc}"[:2000]


def process_event(event_id):
    """Job: apply one stored event. Idempotent: a processed event is skipped."""
    stmt = sa.select(LineWebhookEvent).where(LineWebhookEvent.id == event_id).execution_options(populate_existing=True)
    event = db.session.scalars(_skip_locked(stmt)).first()  # locked: another worker has it
    if event is None or event.processed_at is not None:
        return None
    event.attempts += 1
    if event.source_type == "user" and event.source_user_id:
        handler = HANDLERS.get(event.event_type)
        if handler is not None:
            friend = _friend_for(event)
            handler(event, friend, event.payload)
    event.processed_at = utcnow()
    event.error = None
    db.session.flush()
    return event


def _friend_for(event):
    friend = db.session.scalars(
        sa.select(LineFriend).where(
            LineFriend.shop_id == event.shop_id, LineFriend.line_user_id == event.source_user_id
        )
    ).first()
    if friend is None:
        friend = LineFriend(shop_id=event.shop_id, line_user_id=event.source_user_id, followed=True)
        db.session.add(friend)
        db.session.flush()
    max_age = timedelta(hours=current_app.config["LINE_PROFILE_MAX_AGE_HOURS"])
    if friend.profile_fetched_at is None or friend.profile_fetched_at < utcnow() - max_age:
        enqueue_after_commit(refresh_profile, friend.id)
    return friend


def refresh_profile(friend_id):
    """Job: fetch display name and picture from LINE; a failure leaves the old values."""
    from linebot.v3.messaging import ApiException
    from urllib3.exceptions import HTTPError as Urllib3Error

    from crm.line_platform.channels import line_error_reason, mark_misconfigured
    from crm.line_platform.client import line_apis

    friend = db.session.get(LineFriend, friend_id)
    if friend is None:
        return
    channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == friend.shop_id)).first()
    if channel is None or not channel.configured:
        return
    token, line_user_id = channel.channel_access_token, friend.line_user_id
    db.session.commit()  # no transaction stays open while LINE answers
    try:
        with line_apis(token) as apis:
            profile = apis.messaging.get_profile(line_user_id)
    except ApiException as exc:
        log.warning("profile of %s not fetched: %s", line_user_id, line_error_reason(exc))
        if exc.status == 401:
            mark_misconfigured(channel, line_error_reason(exc))
        return
    except (Urllib3Error, OSError) as exc:
        log.warning("profile of %s not fetched: %s", line_user_id, exc)
        return
    friend.display_name = profile.display_name or friend.display_name
    friend.picture_url = profile.picture_url
    friend.profile_fetched_at = utcnow()


def _remember_reply_token(event, friend, payload):
    # Standby events belong to another channel's conversation: never answered.
    token = payload.get("replyToken")
    if token and event.mode == "active":
        if friend.reply_token_received_at is None or event.occurred_at >= friend.reply_token_received_at:
            friend.reply_token = token
            friend.reply_token_received_at = event.occurred_at


def _set_follow_state(event, friend, followed):
    if friend.status_changed_at is not None and event.occurred_at < friend.status_changed_at:
        return  # an older event delivered late
    friend.followed = followed
    friend.blocked_at = None if followed else event.occurred_at
    friend.status_changed_at = event.occurred_at


def on_follow(event, friend, payload):
    _set_follow_state(event, friend, True)
    _remember_reply_token(event, friend, payload)


def on_unfollow(event, friend, payload):
    _set_follow_state(event, friend, False)


def on_message(event, friend, payload):
    message = payload.get("message") or {}
    kind = message.get("type", "unknown")
    existing = db.session.scalars(
        sa.select(LineMessage).where(
            LineMessage.shop_id == event.shop_id, LineMessage.line_message_id == message.get("id")
        )
    ).first()
    if existing is not None:
        return
    details = {k: v for k, v in message.items() if k not in ("id", "type", "text")}
    row = LineMessage(
        shop_id=event.shop_id,
        friend_id=friend.id,
        direction=Direction.INCOMING,
        message_type=kind,
        text=message.get("text") if kind == "text" else None,
        payload=details,
        sent_at=event.occurred_at,
        line_message_id=message.get("id"),
        webhook_event_id=event.webhook_event_id,
    )
    if kind in MEDIA_TYPES:
        provider = (message.get("contentProvider") or {}).get("type", "line")
        row.media_status = "pending" if provider == "line" else "external"
    db.session.add(row)
    db.session.flush()
    if friend.last_message_at is None or event.occurred_at > friend.last_message_at:
        friend.last_message_at = event.occurred_at
    from crm.line_tab.conversation import record_incoming

    record_incoming(friend, row)
    _remember_reply_token(event, friend, payload)
    if row.media_status == "pending":
        from crm.line_platform.media import schedule_download

        schedule_download(row.id)


def on_postback(event, friend, payload):
    from urllib.parse import parse_qs

    _remember_reply_token(event, friend, payload)
    data = parse_qs((payload.get("postback") or {}).get("data", ""))
    if data.get("action") == ["check_bookings"] and event.mode == "active":
        answer_check_bookings(friend)


def answer_check_bookings(friend):
    """予約を確認する: a linked friend gets their upcoming bookings; a waiting one 確認待ち; others the linking card."""
    from crm.customers.models import Customer
    from crm.linking.notify import send_link_card
    from crm.linking.tokens import make_token
    from crm.line_platform.sending import queue_text
    from crm.urls import external_url

    if friend.customer_id is None:
        from crm.linking.notify import send_waiting_notice
        from crm.linking.services import pending_request_for

        if pending_request_for(friend) is not None:
            # 確認待ち: the shop has not confirmed who this is, so no bookings and no new form.
            return send_waiting_notice(friend)
        return send_link_card(friend, external_url("linking.form", token=make_token(friend)))
    from crm.bookings.texts import upcoming_message

    return queue_text(friend, upcoming_message(db.session.get(Customer, friend.customer_id)))


def on_unsend(event, friend, payload):
    message_id = (payload.get("unsend") or {}).get("messageId")
    row = db.session.scalars(
        sa.select(LineMessage).where(LineMessage.shop_id == event.shop_id, LineMessage.line_message_id == message_id)
    ).first()
    if row is not None:
        row.unsent_at = event.occurred_at


def on_message_edited(event, friend, payload):
    message = payload.get("message") or {}
    row = db.session.scalars(
        sa.select(LineMessage).where(
            LineMessage.shop_id == event.shop_id, LineMessage.line_message_id == message.get("id")
        )
    ).first()
    if row is None:
        on_message(event, friend, payload)
        return
    history = list((row.payload or {}).get("edits", []))
    history.append({"text": row.text, "replaced_at": event.occurred_at.isoformat()})
    row.payload = {**(row.payload or {}), "edits": history}
    row.text = message.get("text", row.text)
    row.edited_at = event.occurred_at


HANDLERS = {
    "follow": on_follow,
    "unfollow": on_unfollow,
    "message": on_message,
    "postback": on_postback,
    "unsend": on_unsend,
    "messageEdited": on_message_edited,
}


def sweep_unprocessed(limit=500):
    """Queue a drain if deliveries or events wait (e.g. a job lost with Redis); returns how many wait (up to limit each)."""
    from crm.jobs import enqueue

    waiting = len(db.session.scalars(
        sa.select(LineWebhookDelivery.id).where(LineWebhookDelivery.attempts < MAX_ATTEMPTS).limit(limit)
    ).all())
    waiting += len(db.session.scalars(
        sa.select(LineWebhookEvent.id)
        .where(LineWebhookEvent.processed_at.is_(None), LineWebhookEvent.attempts < MAX_ATTEMPTS)
        .limit(limit)
    ).all())
    if waiting:
        enqueue(drain_events)
    return waiting
