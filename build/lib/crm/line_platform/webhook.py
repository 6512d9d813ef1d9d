"""Webhook ingestion: verify the signature on the raw body, keep it, store each event once."""
import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crm import jobs
from crm.database import autocommit_engine, session_joins_outer_transaction, utcnow
from crm.extensions import db
from crm.line_platform.models import LineWebhookDelivery, LineWebhookEvent


_SECRETS_TTL = 60.0
_secrets = {}  # webhook key -> (expires at, shop id, channel secret)


def channel_secret(key, fresh=False):
    """(shop id, channel secret) of a webhook key, cached briefly: the webhook is a hot path.

    Call again with fresh=True when a signature fails, so a secret the owner
    just changed is picked up at once.
    """
    import time

    from crm.shops.models import LineChannel

    now = time.monotonic()
    cached = _secrets.get(key)
    if cached and not fresh and cached[0] > now:
        return cached[1], cached[2]
    row = db.session.execute(
        sa.select(LineChannel.shop_id, LineChannel.channel_secret).where(LineChannel.webhook_key == key)
    ).first()
    if row is None or not row.channel_secret:
        _secrets.pop(key, None)
        return None
    _secrets[key] = (now + _SECRETS_TTL, row.shop_id, row.channel_secret)
    return row.shop_id, row.channel_secret


def max_bytes():
    """The largest webhook body accepted (WEBHOOK_MAX_BYTES); LINE's are a few kB."""
    from flask import current_app

    return current_app.config["WEBHOOK_MAX_BYTES"]


class BadWebhook(ValueError):
    """The request is not a webhook this shop's channel sent."""


def signature_is_valid(channel_secret, body, signature):
    """X-Line-Signature is base64(HMAC-SHA256(channel secret, raw body)); compared in constant time."""
    if not signature or not channel_secret:
        return False
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), signature.encode("ascii", "replace"))


def parse_body(body):
    """The events of a webhook body; malformed JSON or shape raises BadWebhook."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadWebhook("malformed JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise BadWebhook("no events list")
    for event in data["events"]:
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise BadWebhook("event without type")
        event_id = event.get("webhookEventId")
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 64:  # LINE's are 26-character ULIDs
            raise BadWebhook("event without webhookEventId")
        if not isinstance(event.get("timestamp"), int):
            raise BadWebhook("event without timestamp")
    return data["events"]


def _insert(dialect_name):
    if dialect_name == "postgresql":
        return postgresql.insert
    if dialect_name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(dialect_name)


def store_delivery(shop_id, body):
    """Keep a verified body as LINE signed it, committed (durable before LINE gets its 200); returns its id."""
    received_at = utcnow()
    text = body.decode("utf-8")
    if db.engine.dialect.name == "postgresql" and not session_joins_outer_transaction():
        # One INSERT that commits by itself, without an ORM session: the BEGIN
        # and COMMIT round trips and the session were most of the webhook's cost.
        connection = autocommit_engine().raw_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(_PG_DELIVERY_INSERT, (shop_id, text, received_at))
                return cursor.fetchone()[0]
        finally:
            connection.close()
    # SQLite (whose transactions begin IMMEDIATE), or the tests' outer transaction.
    delivery_id = db.session.connection().execute(
        _DELIVERY_INSERT, {"shop_id": shop_id, "body": text, "received_at": received_at}
    ).scalar_one()
    jobs.commit()
    return delivery_id


_DELIVERY_INSERT = LineWebhookDelivery.__table__.insert().returning(LineWebhookDelivery.__table__.c.id)
_PG_DELIVERY_INSERT = "INSERT INTO line_webhook_deliveries (shop_id, body, received_at) VALUES (%s, %s, %s) RETURNING id"


def event_row(shop_id, event, received_at):
    """The column values of one LINE event."""
    source = event.get("source") or {}
    return {
        "shop_id": shop_id,
        "webhook_event_id": event["webhookEventId"],
        "event_type": event["type"],
        "mode": event.get("mode") or "active",
        "source_type": source.get("type"),
        "source_user_id": source.get("userId"),
        "occurred_at": datetime.fromtimestamp(event["timestamp"] / 1000, tz=timezone.utc),
        "is_redelivery": bool((event.get("deliveryContext") or {}).get("isRedelivery")),
        "payload": event,
        "received_at": received_at,
        "attempts": 0,
    }


def store_events(shop_id, events, received_at):
    """Insert events, skipping any webhookEventId already stored; returns the new rows' ids.

    ON CONFLICT DO NOTHING on the unique webhookEventId makes a redelivery or a
    concurrent duplicate store nothing, with no race between check and insert.
    """
    if not events:
        return []
    connection = db.session.connection()
    table = LineWebhookEvent.__table__
    stmt = (
        _insert(connection.dialect.name)(table)
        .on_conflict_do_nothing(index_elements=["webhook_event_id"])
        .returning(table.c.id)
    )
    rows = [event_row(shop_id, event, received_at) for event in events]
    return sorted(connection.execute(stmt, rows).scalars().all())
