"""The same event posted concurrently, with real commits (on PostgreSQL the webhook's autocommit INSERT): stored once."""
import base64
import hashlib
import hmac
import json
import threading

import sqlalchemy as sa

from crm.conversations.models import LineMessage
from crm.extensions import db as _db
from crm.line_platform.models import LineWebhookDelivery, LineWebhookEvent
from crm.line_platform.services import channel_for_shop, save_channel
from crm.shops.models import Shop
from tests.factories import make_shop

POSTS = 6


def test_the_same_event_posted_concurrently_is_stored_and_shown_once(app, line_sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "LINE_API_BASE_URL", line_sandbox.url)
    sandbox_channel = line_sandbox.add_channel(bot_name="サロン・ド・並行")
    with app.app_context():
        shop, _ = make_shop()
        channel = channel_for_shop(shop.id)
        save_channel(channel, sandbox_channel["channel_id"], sandbox_channel["channel_secret"],
                     sandbox_channel["channel_access_token"])
        _db.session.commit()
        shop_id, path = shop.id, f"/line/webhook/{channel.webhook_key}"
        _db.session.remove()
    event = {"type": "message", "mode": "active", "timestamp": 1700000000000, "webhookEventId": "01CONCURRENT0000000000000",
             "replyToken": "r-concurrent", "source": {"type": "user", "userId": "U" + "c" * 32},
             "deliveryContext": {"isRedelivery": False}, "message": {"id": "77001", "type": "text", "text": "同時です"}}
    body = json.dumps({"destination": "U" + "0" * 32, "events": [event]}).encode()
    secret = sandbox_channel["channel_secret"].encode()
    signature = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
    barrier = threading.Barrier(POSTS)
    statuses = []

    def post():
        client = app.test_client()
        barrier.wait(timeout=10)
        response = client.post(path, data=body, headers={"Content-Type": "application/json", "X-Line-Signature": signature})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(POSTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert statuses == [200] * POSTS  # every redelivery is acknowledged
        with app.app_context():
            events = _db.session.scalars(sa.select(LineWebhookEvent).where(LineWebhookEvent.shop_id == shop_id)).all()
            assert [e.webhook_event_id for e in events] == ["01CONCURRENT0000000000000"]
            assert events[0].processed_at is not None
            messages = _db.session.scalars(sa.select(LineMessage.text).where(LineMessage.shop_id == shop_id)).all()
            assert messages == ["同時です"]
            waiting = _db.session.scalars(
                sa.select(LineWebhookDelivery).where(LineWebhookDelivery.shop_id == shop_id)
            ).all()
            assert waiting == []  # every delivery was split and removed
    finally:
        with app.app_context():
            _db.session.execute(sa.delete(Shop).where(Shop.id == shop_id))  # ON DELETE CASCADE
            _db.session.commit()
