"""Webhook ingestion: signature, size, shape, exactly-once storage."""
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm.extensions import db as _db
from crm.line_platform.models import LineWebhookEvent
from crm.line_tab.models import LineMessage

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "line-spec" / "webhook-samples.json"


def _samples():
    events = json.loads(SAMPLES.read_text())["events"]
    # The SDK's samples all share one webhookEventId; real deliveries never do.
    for index, event in enumerate(events):
        event["webhookEventId"] = f"01SAMPLE{index:018d}"
    return events


def _stored(shop_id=None):
    stmt = sa.select(LineWebhookEvent)
    if shop_id is not None:
        stmt = stmt.where(LineWebhookEvent.shop_id == shop_id)
    return _db.session.scalars(stmt).all()


def test_every_sample_event_is_accepted_and_stored(client, line_shop):
    events = _samples()
    for event in events:
        response = line_shop.post_events(client, [event])
        assert response.status_code == 200, (event["type"], response.get_data(as_text=True))
    stored = _stored(line_shop.shop.id)
    assert sorted(e.webhook_event_id for e in stored) == sorted(e["webhookEventId"] for e in events)
    assert all(e.processed_at is not None for e in stored)
    assert {e.event_type for e in stored} >= {"message", "follow", "unfollow", "postback", "unsend", "messageEdited"}


def test_one_body_with_all_samples_stores_them_all(client, line_shop):
    response = line_shop.post_events(client, _samples())
    assert response.status_code == 200
    assert len(_stored(line_shop.shop.id)) == 28


@pytest.mark.parametrize("case", ["wrong secret", "tampered body", "missing header", "re-encoded emoji", "garbage"])
def test_bad_signatures_are_refused_and_nothing_is_stored(client, line_shop, case):
    event = {"type": "message", "mode": "active", "timestamp": 1700000000000, "webhookEventId": "01BADSIG",
             "source": {"type": "user", "userId": "U" + "a" * 32}, "replyToken": "r",
             "deliveryContext": {"isRedelivery": False}, "message": {"id": "1", "type": "text", "text": "😀 こんにちは"}}
    # LINE escapes non-ASCII in the body it signs; the signature covers those exact bytes.
    body = json.dumps({"destination": "U0", "events": [event]}, ensure_ascii=True).encode()
    signature = line_shop.sign(body)
    headers = {"Content-Type": "application/json"}
    if case == "wrong secret":
        import base64, hashlib, hmac
        headers["X-Line-Signature"] = base64.b64encode(hmac.new(b"0" * 32, body, hashlib.sha256).digest()).decode()
    elif case == "tampered body":
        body = body.replace("こんにちは".encode("unicode_escape"), b"sayonara").replace(b'"1"', b'"2"')
        headers["X-Line-Signature"] = signature
    elif case == "re-encoded emoji":
        body = json.dumps(json.loads(body), ensure_ascii=False).encode()
        headers["X-Line-Signature"] = signature
    elif case == "garbage":
        headers["X-Line-Signature"] = "not base64 ✗"
    response = client.post(line_shop.webhook_path, data=body, headers=headers)
    assert response.status_code == 400
    assert _stored() == []


def test_escaped_body_with_its_own_signature_is_accepted_as_sent(client, line_shop):
    event = {"type": "message", "mode": "active", "timestamp": 1700000000000, "webhookEventId": "01ESCAPED",
             "source": {"type": "user", "userId": "U" + "b" * 32}, "replyToken": "r",
             "deliveryContext": {"isRedelivery": False}, "message": {"id": "77", "type": "text", "text": "😀 こんにちは"}}
    body = json.dumps({"destination": "U0", "events": [event]}, ensure_ascii=True).encode()
    assert b"\\ud83d\\ude00" in body
    assert line_shop.post_events(client, None, body=body).status_code == 200
    message = _db.session.scalars(sa.select(LineMessage)).one()
    assert message.text == "😀 こんにちは"


def test_body_over_the_limit_answers_413(client, line_shop, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_BYTES", 1000)
    body = json.dumps({"events": [], "pad": "x" * 2000}).encode()
    assert line_shop.post_events(client, None, body=body).status_code == 413
    assert _stored() == []


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"events": "x"}', b'{"events": [{"type": "message"}]}'])
def test_malformed_bodies_answer_400(client, line_shop, body):
    assert line_shop.post_events(client, None, body=body).status_code == 400
    assert _stored() == []


def test_empty_events_list_answers_200(client, line_shop):
    # LINE's "Verify" button sends exactly this.
    assert line_shop.post_events(client, []).status_code == 200
    assert _stored() == []


def test_unknown_webhook_key_answers_404(client, line_shop):
    body = b'{"events": []}'
    response = client.post("/line/webhook/not-a-key", data=body, headers={"X-Line-Signature": line_shop.sign(body)})
    assert response.status_code == 404


def test_webhook_needs_no_csrf_token_but_still_a_signature(client, line_shop):
    response = client.post(line_shop.webhook_path, data=b'{"events": []}', headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_the_same_event_twice_is_stored_once(client, line_shop):
    event = _samples()[0]
    assert line_shop.post_events(client, [event]).status_code == 200
    event["deliveryContext"] = {"isRedelivery": True}
    assert line_shop.post_events(client, [event]).status_code == 200
    assert len(_stored()) == 1
    assert len(_db.session.scalars(sa.select(LineMessage)).all()) == 1
