"""Webhook deliveries: verify the signature on the raw body, keep the body, store each event once."""
import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import current_app

from crm import jobs
from crm.database import (
    autocommit_engine,
    insert_ignoring,
    session_joins_outer_transaction,
    utcnow,
)
from crm.extensions import db
from crm.line_platform.models import LineWebhookDelivery, LineWebhookEvent
from crm.shops.models import LineChannel

_SECRETS_TTL = 60.0
_secrets: dict[str, tuple[float, int, str, int]] = {}  # webhook key -> (expires at, shop id, channel secret, secret version)


def channel_secret(key, fresh=False):
    """(shop id, channel secret, secret version) of a webhook key, cached: the webhook is a hot path.

    A cached secret may be stale (the owner changed it, maybe in another
    process), so a delivery is stored only while its version is current
    (store_delivery); when it is not, or a signature fails, call again with
    fresh=True.
    """
    now = time.monotonic()
    cached = _secrets.get(key)
    if cached and not fresh and cached[0] > now:
        return cached[1:]
    row = db.session.execute(
        sa.select(LineChannel.shop_id, LineChannel.channel_secret, LineChannel.secret_version)
        .where(LineChannel.webhook_key == key)
    ).first()
    if row is None or not row.channel_secret:
        _secrets.pop(key, None)
        return None
    _secrets[key] = (now + _SECRETS_TTL, row.shop_id, row.channel_secret, row.secret_version)
    return row.shop_id, row.channel_secret, row.secret_version


def max_bytes():
    """The largest webhook body accepted (WEBHOOK_MAX_BYTES); LINE's are a few kB."""
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


def store_delivery(shop_id, body, key, secret_version):
    """Keep a verified body as LINE signed it, committed (durable before LINE gets its 200); returns its id.

    Stores nothing and returns None when the channel's secret is no longer at
    secret_version (the body was verified with a secret since replaced) or the
    channel is gone: the check rides in the INSERT, so it costs no round trip.
    """
    received_at = utcnow()
    text = body.decode("utf-8")
    if db.engine.dialect.name == "postgresql" and not session_joins_outer_transaction():
        # One INSERT that commits by itself, without an ORM session: the BEGIN
        # and COMMIT round trips and the session were most of the webhook's cost.
        connection = autocommit_engine().raw_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(_PG_DELIVERY_INSERT, (shop_id, text, received_at, key, secret_version))
                row = cursor.fetchone()
                return row[0] if row else None
        finally:
            connection.close()
    # SQLite (whose transactions begin IMMEDIATE), or the tests' outer transaction.
    delivery_id = db.session.connection().execute(
        _DELIVERY_INSERT,
        {"shop_id": shop_id, "body": text, "received_at": received_at, "key": key, "version": secret_version},
    ).scalar_one_or_none()
    jobs.commit()
    return delivery_id


def _delivery_insert():
    table = LineWebhookDelivery.__table__
    current = sa.exists().where(
        LineChannel.webhook_key == sa.bindparam("key"), LineChannel.secret_version == sa.bindparam("version")
    )
    values = sa.select(
        sa.bindparam("shop_id", type_=table.c.shop_id.type),
        sa.bindparam("body", type_=table.c.body.type),
        sa.bindparam("received_at", type_=table.c.received_at.type),
    ).where(current)
    return table.insert().from_select(["shop_id", "body", "received_at"], values).returning(table.c.id)


_DELIVERY_INSERT = _delivery_insert()
_PG_DELIVERY_INSERT = (
    "INSERT INTO line_webhook_deliveries (shop_id, body, received_at)"
    " SELECT %s, %s::text, %s::timestamptz WHERE EXISTS"
    " (SELECT 1 FROM line_channels WHERE webhook_key = %s AND secret_version = %s) RETURNING id"
)


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
    table = LineWebhookEvent.__table__
    stmt = insert_ignoring(table, ["webhook_event_id"]).returning(table.c.id)
    rows = [event_row(shop_id, event, received_at) for event in events]
    return sorted(db.session.connection().execute(stmt, rows).scalars().all())
