"""Webhooks: shaped like LINE's samples, signed, parsed by the official SDK."""
import base64
import hashlib
import hmac
import json
import re

import pytest
import requests
from linebot.v3 import SignatureValidator, WebhookParser
from linebot.v3.webhooks import (
    AudioMessageContent,
    FileMessageContent,
    FollowEvent,
    ImageMessageContent,
    LocationMessageContent,
    MessageEditedEvent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
    UnsendEvent,
    UserSource,
    VideoMessageContent,
)

from line_sandbox.schema import SpecValidator, load_spec
from line_sandbox.webhooks import sign, ulid

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


@pytest.fixture(scope="module")
def samples(line_spec_dir):
    return json.loads((line_spec_dir / "webhook-samples.json").read_text(encoding="utf-8"))["events"]


@pytest.fixture(scope="module")
def webhook_schema(line_spec_dir):
    # messageEdited is newer than webhook.yml's discriminator mapping: unknown types pass.
    return SpecValidator(load_spec(str(line_spec_dir / "webhook.yml")), "urn:test:webhook", strict_discriminator=False)


def _sample(samples, event_type, message_type=None):
    for event in samples:
        if event["type"] == event_type and event["source"]["type"] == "user" and (
                message_type is None or event.get("message", {}).get("type") == message_type):
            return event
    raise LookupError(event_type)


def _received(webhook_receiver, channel):
    """The last delivered webhook, checked for its signature and parsed by the SDK."""
    record = webhook_receiver.received[-1]
    body = record["body"].decode("utf-8")
    signature = record["headers"]["X-Line-Signature"]
    assert SignatureValidator(channel["channel_secret"]).validate(body, signature)
    payload = WebhookParser(channel["channel_secret"]).parse(body, signature, as_payload=True)
    return json.loads(body), payload


# Fields the samples show that LINE sends only sometimes (message stickers, keywords,
# image sets)
# or, per webhook.yml, not at all (audio has no quoteToken).
OPTIONAL_IN_SAMPLES = {"sticker": {"keywords", "text"}, "audio": {"quoteToken"}, "image": {"imageSet"}}

CASES = [
    ({"type": "follow"}, FollowEvent, None),
    ({"type": "message", "message": {"type": "text", "text": "カットの予約をお願いします🙏"}}, MessageEvent, TextMessageContent),
    ({"type": "message", "message": {"type": "sticker", "packageId": "446", "stickerId": "1988"}}, MessageEvent, StickerMessageContent),
    ({"type": "message", "message": {"type": "image"}}, MessageEvent, ImageMessageContent),
    ({"type": "message", "message": {"type": "video", "content_base64": "AAAA", "duration": 3000}}, MessageEvent, VideoMessageContent),
    ({"type": "message", "message": {"type": "audio", "content_base64": "AAAA"}}, MessageEvent, AudioMessageContent),
    ({"type": "message", "message": {"type": "file", "fileName": "カルテ.pdf", "content_base64": "JVBERi0="}}, MessageEvent, FileMessageContent),
    ({"type": "message", "message": {"type": "location", "title": "サロン", "address": "渋谷区",
                                     "latitude": 35.6591, "longitude": 139.7037}}, MessageEvent, LocationMessageContent),
    ({"type": "postback", "data": "action=book&menu=cut", "params": {"datetime": "2030-01-02T10:00"}}, PostbackEvent, None),
    ({"type": "unfollow"}, UnfollowEvent, None),
]


@pytest.mark.parametrize(("spec", "event_class", "content_class"), CASES, ids=lambda v: v.get("type") if isinstance(v, dict) else None)
def test_events_are_signed_parsed_and_shaped_like_the_samples(
        line_sandbox, channel, webhook_receiver, samples, webhook_schema, spec, event_class, content_class):
    user = line_sandbox.add_user(display_name="高橋 健")
    result = line_sandbox.send(channel["channel_id"], user["user_id"], spec)

    assert result["delivery"]["status_code"] == 200
    body, payload = _received(webhook_receiver, channel)
    assert payload.destination == channel["bot_user_id"]
    (event,) = payload.events
    assert type(event) is event_class
    assert isinstance(event.source, UserSource) and event.source.user_id == user["user_id"]
    assert event.delivery_context.is_redelivery is False
    if content_class:
        assert type(event.message) is content_class

    (raw,) = body["events"]
    assert raw == result["event"]
    assert webhook_schema.errors("CallbackRequest", body) == []
    assert ULID.match(raw["webhookEventId"])
    assert abs(raw["timestamp"] - body["events"][0]["timestamp"]) == 0 and raw["timestamp"] > 1_600_000_000_000
    sample = _sample(samples, spec["type"], spec.get("message", {}).get("type"))
    assert set(raw) == set(sample)
    if "message" in sample:
        expected = set(sample["message"]) - OPTIONAL_IN_SAMPLES.get(sample["message"]["type"], set())
        assert expected <= set(raw["message"])
        if "contentProvider" in raw["message"]:
            assert raw["message"]["contentProvider"] == {"type": "line"}


def test_unsend_edit_and_redelivery(line_sandbox, channel, friend, webhook_receiver):
    sent = line_sandbox.text(channel["channel_id"], friend["user_id"], "明日の10時で")["event"]
    message_id = sent["message"]["id"]

    line_sandbox.send(channel["channel_id"], friend["user_id"], {
        "type": "messageEdited", "message": {"id": message_id, "type": "text", "text": "明日の11時で"}})
    (edited,) = _received(webhook_receiver, channel)[1].events
    assert type(edited) is MessageEditedEvent and edited.message.text == "明日の11時で" and edited.message.id == message_id

    line_sandbox.send(channel["channel_id"], friend["user_id"], {"type": "unsend", "messageId": message_id})
    (unsend,) = _received(webhook_receiver, channel)[1].events
    assert type(unsend) is UnsendEvent and unsend.unsend.message_id == message_id
    chat = line_sandbox.chat(channel["channel_id"], friend["user_id"])
    assert [e for e in chat if e["event"].get("message", {}).get("id") == message_id][0]["unsent"] is True

    again = line_sandbox.send(channel["channel_id"], friend["user_id"], {
        "type": "message", "message": {"type": "text", "text": "x"}, "redelivery": True,
        "webhook_event_id": sent["webhookEventId"], "timestamp": sent["timestamp"]})["event"]
    assert again["deliveryContext"] == {"isRedelivery": True}
    assert again["webhookEventId"] == sent["webhookEventId"] and again["timestamp"] == sent["timestamp"]


def test_follow_after_block_is_an_unblock(line_sandbox, channel, friend, webhook_receiver):
    line_sandbox.send(channel["channel_id"], friend["user_id"], {"type": "unfollow"})
    refused = requests.post(f"{line_sandbox.url}/_sandbox/channels/{channel['channel_id']}/users/{friend['user_id']}/events",
                            json={"type": "message", "message": {"type": "text", "text": "x"}}, timeout=5)
    assert refused.status_code == 409
    assert line_sandbox.follow(channel["channel_id"], friend["user_id"])["event"]["follow"] == {"isUnblocked": True}


def test_signature_is_hmac_sha256_of_the_exact_bytes(line_sandbox, channel, webhook_receiver):
    raw = '{"destination":"%s","events":[],"note":"\\u3042 escaped"}' % channel["bot_user_id"]
    result = line_sandbox.deliver(channel["channel_id"], raw_body=raw)

    record = webhook_receiver.received[-1]
    assert record["body"] == raw.encode()
    expected = base64.b64encode(hmac.new(channel["channel_secret"].encode(), raw.encode(), hashlib.sha256).digest()).decode()
    assert record["headers"]["X-Line-Signature"] == expected == result["signature"] == sign(channel["channel_secret"], raw.encode())
    assert record["headers"]["User-Agent"].startswith("LineBotWebhook/")
    assert json.loads(record["body"])["note"] == "あ escaped"


def test_tampered_signature_is_delivered_as_given(line_sandbox, channel, webhook_receiver, samples):
    result = line_sandbox.deliver(channel["channel_id"], events=samples[:1], signature="dGFtcGVyZWQ=")
    record = webhook_receiver.received[-1]
    assert record["headers"]["X-Line-Signature"] == "dGFtcGVyZWQ="
    assert not SignatureValidator(channel["channel_secret"]).validate(record["body"].decode(), "dGFtcGVyZWQ=")
    assert json.loads(record["body"])["events"] == samples[:1]
    assert result["delivery"]["status_code"] == 200


def test_the_bot_can_reply_while_its_webhook_is_being_delivered(line_sandbox, channel, friend, webhook_receiver):
    def reply(record):
        event = json.loads(record["body"])["events"][0]
        response = requests.post(f"{line_sandbox.url}/v2/bot/message/reply", timeout=5,
                                 headers={"Authorization": f"Bearer {channel['channel_access_token']}"},
                                 json={"replyToken": event["replyToken"], "messages": [{"type": "text", "text": "受付しました"}]})
        return 200 if response.status_code == 200 else 500

    webhook_receiver.on_webhook = reply
    result = line_sandbox.text(channel["channel_id"], friend["user_id"], "予約")
    assert result["delivery"]["status_code"] == 200
    assert [s["messages"][0]["text"] for s in line_sandbox.sent(channel["channel_id"])] == ["受付しました"]


def test_delivery_outcomes_are_reported(line_sandbox, channel, friend, webhook_receiver):
    webhook_receiver.status = 503
    assert line_sandbox.text(channel["channel_id"], friend["user_id"], "x")["delivery"]["status_code"] == 503
    line_sandbox.add_channel(channel_id=channel["channel_id"], channel_secret=channel["channel_secret"],
                             channel_access_token=channel["channel_access_token"], webhook_url="http://127.0.0.1:9/callback")
    down = line_sandbox.text(channel["channel_id"], friend["user_id"], "x")["delivery"]
    assert down["status_code"] is None and down["error"]
    chat = line_sandbox.chat(channel["channel_id"], friend["user_id"])
    assert [e["delivery"]["status_code"] for e in chat if e["from"] == "user"][-2:] == [503, None]


def test_bad_event_specs_are_refused(line_sandbox, channel, friend):
    url = f"{line_sandbox.url}/_sandbox/channels/{channel['channel_id']}/users/{friend['user_id']}/events"
    for spec in ({"type": "teleport"}, {"type": "message", "message": {"type": "text"}},
                 {"type": "message", "message": {"type": "video"}}, {"type": "postback"}):
        assert requests.post(url, json=spec, timeout=5).status_code == 400, spec
    unknown = requests.post(f"{line_sandbox.url}/_sandbox/channels/nope/users/{friend['user_id']}/events",
                            json={"type": "follow"}, timeout=5)
    assert unknown.status_code == 404


def test_ulids_sort_by_time():
    assert ulid(1_000) < ulid(2_000) and len(ulid()) == 26 and ULID.match(ulid())
