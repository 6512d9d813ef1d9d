"""Draining kept webhook deliveries: split each into events (each webhookEventId once), apply the events.

A delivery is kept by one INSERT before LINE gets its 200 (deliveries.py); this
runs in the background, on as many workers as there are: rows are taken with
SKIP LOCKED, and each event is applied in its own savepoint so one failing event
does not hold up the others. The sweep finds what a lost job left waiting.
"""
import logging

import sqlalchemy as sa

from crm.database import skip_locked, utcnow
from crm.extensions import db
from crm.jobs import commit, drain_started, enqueue
from crm.line_platform import handlers, sending
from crm.line_platform.deliveries import parse_body, store_events
from crm.line_platform.models import LineWebhookDelivery, LineWebhookEvent

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # after that an event waits for a person to look at its error
DRAIN_BATCH = 100
DRAIN_FLAG = "crm:line-events:drain"


def drain_events():
    """Job: split waiting deliveries, then process every unprocessed event, oldest first, in batches.

    Several workers may share the work: rows are taken with SKIP LOCKED.
    """
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
        ids = db.session.scalars(skip_locked(stmt)).all()
        if not ids and not split:
            return processed
        process_events(ids)
        replies = sending.take_queued()
        commit()
        if replies:  # the events' answers: now, by this worker, before the next batch (reply tokens expire)
            sending.deliver_many(replies)
            commit()
        processed += len(ids)


def split_deliveries(failed, limit=DRAIN_BATCH):
    """Turn waiting deliveries into events, each webhookEventId stored once; returns how many were split.

    Deliveries that fail are added to `failed` and not tried again by this drain.
    """
    deliveries = db.session.scalars(
        skip_locked(
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
    event = db.session.scalars(skip_locked(stmt)).first()  # locked: another worker has it
    if event is None or event.processed_at is not None:
        return None
    event.attempts += 1
    if event.source_type == "user" and event.source_user_id:
        handler = handlers.HANDLERS.get(event.event_type)
        if handler is not None:
            friend = handlers.friend_for(event)
            handler(event, friend, event.payload)
    event.processed_at = utcnow()
    event.error = None
    db.session.flush()
    return event


def sweep_unprocessed(limit=500):
    """Queue a drain if deliveries or events wait (e.g. a job lost with Redis); returns how many wait (up to limit each)."""
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
