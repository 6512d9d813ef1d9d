"""Webhook ingestion: signature, size, shape, exactly-once storage, the ingress's answers."""
import json

import pytest
import sqlalchemy as sa

from crm.conversations.models import LineMessage
from crm.extensions import db as _db
from crm.line_platform import deliveries as ingestion
from crm.line_platform.models import LineWebhookDelivery, LineWebhookEvent
from line_sandbox.schema import spec_dir

SAMPLES = spec_dir() / "webhook-samples.json"


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


def _nothing_kept():
    return _stored() == [] and _db.session.scalars(sa.select(LineWebhookDelivery)).all() == []


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
        import base64
        import hashlib
        import hmac
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
    assert _nothing_kept()


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
    assert _nothing_kept()


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"events": "x"}', b'{"events": [{"type": "message"}]}'])
def test_malformed_bodies_answer_400(client, line_shop, body):
    assert line_shop.post_events(client, None, body=body).status_code == 400
    assert _nothing_kept()


def test_empty_events_list_answers_200(client, line_shop):
    # LINE's "Verify" button sends exactly this.
    assert line_shop.post_events(client, []).status_code == 200
    assert _nothing_kept()


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


def test_a_delivery_is_split_into_events_and_then_removed(client, line_shop):
    events = _samples()[:3]
    assert line_shop.post_events(client, events).status_code == 200
    assert sorted(e.webhook_event_id for e in _stored()) == sorted(e["webhookEventId"] for e in events)
    assert _db.session.scalars(sa.select(LineWebhookDelivery)).all() == []  # split in the same transaction


def test_other_methods_on_the_webhook_answer_405(client, line_shop):
    response = client.get(line_shop.webhook_path)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"


def test_a_failure_while_storing_answers_500_so_that_line_redelivers(client, line_shop, monkeypatch):
    def broken(*args):
        raise RuntimeError("database went away")

    monkeypatch.setattr(ingestion, "store_delivery", broken)
    response = line_shop.post_events(client, [_samples()[0]])
    assert response.status_code == 500 and response.get_json() == {"message": "internal error"}
    assert _nothing_kept()


def test_the_webhook_url_is_built_by_url_for(app, line_shop):
    from flask import url_for

    with app.test_request_context():
        assert url_for("line_platform.webhook", key=line_shop.channel.webhook_key) == line_shop.webhook_path


def test_a_delivery_that_cannot_be_split_waits_with_its_error_and_holds_up_no_other(line_shop, monkeypatch):
    from crm.database import utcnow
    from crm.line_platform import drain as processing

    good, bad = _samples()[0], dict(_samples()[1], webhookEventId="01POISON")
    for event in (bad, good):
        _db.session.add(LineWebhookDelivery(shop_id=line_shop.shop.id, received_at=utcnow(),
                                            body=json.dumps({"destination": "U0", "events": [event]})))
    _db.session.flush()
    real_store = processing.store_events

    def store(shop_id, events, received_at):
        if events[0]["webhookEventId"] == "01POISON":
            raise ValueError("value too long for type character varying(64)")
        return real_store(shop_id, events, received_at)

    monkeypatch.setattr(processing, "store_events", store)
    processing.drain_events()
    assert [e.webhook_event_id for e in _stored()] == [good["webhookEventId"]]
    assert _stored()[0].processed_at is not None
    (waiting,) = _db.session.scalars(sa.select(LineWebhookDelivery)).all()
    assert waiting.attempts == 1 and waiting.error == "ValueError: value too long for type character varying(64)"


def test_an_overlong_webhook_event_id_is_refused_at_the_door(client, line_shop):
    event = dict(_samples()[0], webhookEventId="0" * 65)
    assert line_shop.post_events(client, [event]).status_code == 400
    assert _nothing_kept()


def test_a_body_without_content_length_answers_411(app, line_shop):
    import io

    body = json.dumps({"destination": "U0", "events": [_samples()[0]]}).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": line_shop.webhook_path, "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
               "wsgi.errors": io.StringIO(), "HTTP_X_LINE_SIGNATURE": line_shop.sign(body)}
    answered = []
    with app.app_context():
        chunks = app.wsgi_app(environ, lambda status, headers, exc_info=None: answered.append(status))
    assert answered == ["411 Length Required"] and b"".join(chunks) == b'{"message": "Content-Length required"}'
    assert _nothing_kept()


def _sign(secret, body):
    import base64
    import hashlib
    import hmac
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _post_signed(client, line_shop, secret, events):
    body = json.dumps({"destination": "U0", "events": events}).encode()
    return client.post(line_shop.webhook_path, data=body,
                       headers={"Content-Type": "application/json", "X-Line-Signature": _sign(secret, body)})


def test_a_replaced_secret_stops_working_at_once_even_with_a_warm_cache(client, line_shop):
    from crm.line_platform.services import save_channel

    old = line_shop.sandbox_channel["channel_secret"]
    assert _post_signed(client, line_shop, old, [dict(_samples()[0], webhookEventId="01WARM")]).status_code == 200
    assert ingestion._secrets[line_shop.channel.webhook_key][2] == old  # the cache holds the old secret
    new = "n" * 32
    # Another process saves: this process's cache is not cleared by it.
    save_channel(line_shop.channel, line_shop.channel.channel_id, new, "")
    _db.session.flush()
    assert ingestion._secrets[line_shop.channel.webhook_key][2] == old

    response = _post_signed(client, line_shop, old, [dict(_samples()[0], webhookEventId="01OLDSECRET")])
    assert response.status_code == 400 and response.get_json() == {"message": "invalid signature"}
    assert "01OLDSECRET" not in {e.webhook_event_id for e in _stored()}
    assert _db.session.scalars(sa.select(LineWebhookDelivery)).all() == []

    response = _post_signed(client, line_shop, new, [dict(_samples()[0], webhookEventId="01NEWSECRET")])
    assert response.status_code == 200
    assert "01NEWSECRET" in {e.webhook_event_id for e in _stored(line_shop.shop.id)}


def test_a_verify_signed_with_a_replaced_secret_is_refused(client, line_shop):
    from crm.line_platform.services import save_channel

    old = line_shop.sandbox_channel["channel_secret"]
    assert _post_signed(client, line_shop, old, []).status_code == 200  # LINE's verify; the cache is warm
    save_channel(line_shop.channel, line_shop.channel.channel_id, "n" * 32, "")
    _db.session.flush()
    assert _post_signed(client, line_shop, old, []).status_code == 400
    assert _post_signed(client, line_shop, "n" * 32, []).status_code == 200


def test_a_removed_channel_answers_404_at_once(client, line_shop):
    old = line_shop.sandbox_channel["channel_secret"]
    assert _post_signed(client, line_shop, old, [dict(_samples()[0], webhookEventId="01BEFORE")]).status_code == 200
    _db.session.delete(line_shop.channel)
    _db.session.flush()
    assert _post_signed(client, line_shop, old, [dict(_samples()[0], webhookEventId="01AFTER")]).status_code == 404
    assert _post_signed(client, line_shop, old, []).status_code == 404
    assert "01AFTER" not in {e.webhook_event_id for e in _stored()}
