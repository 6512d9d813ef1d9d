"""The sandbox checks image and sticker messages as LINE does, and the phone fetches images from their URLs."""
import requests

from line_sandbox.messaging import limit_errors


def test_image_urls_must_be_https_and_stickers_from_the_list():
    assert limit_errors([{"type": "image", "originalContentUrl": "https://a.example/x.jpg",
                          "previewImageUrl": "https://a.example/p.jpg"}]) == []
    errors = limit_errors([{"type": "image", "originalContentUrl": "http://shop.example/x.jpg",
                            "previewImageUrl": "https://a.example/" + "p" * 2000}])
    assert [e["property"] for e in errors] == ["messages[0].originalContentUrl", "messages[0].previewImageUrl"]
    assert limit_errors([{"type": "sticker", "packageId": "446", "stickerId": "1988"}]) == []
    assert limit_errors([{"type": "sticker", "packageId": "1", "stickerId": "1"}])[0]["property"] == "messages[0].stickerId"


def _push(line_sandbox, channel, user, messages):
    return requests.post(f"{line_sandbox.url}/v2/bot/message/push", json={"to": user["user_id"], "messages": messages},
                         headers={"Authorization": f"Bearer {channel['channel_access_token']}"}, timeout=5)


def test_a_push_with_an_http_image_or_an_unknown_sticker_is_refused(line_sandbox):
    channel = line_sandbox.add_channel()
    user = line_sandbox.add_user(display_name="はなこ")
    line_sandbox.set_friendship(channel["channel_id"], user["user_id"], "friend")
    bad = _push(line_sandbox, channel, user, [{"type": "image", "originalContentUrl": "http://x.example/a.jpg",
                                               "previewImageUrl": "http://x.example/b.jpg"}])
    assert bad.status_code == 400
    assert _push(line_sandbox, channel, user, [{"type": "sticker", "packageId": "1", "stickerId": "1"}]).status_code == 400
    assert line_sandbox.sent(channel["channel_id"]) == []


def test_the_phone_fetches_sent_images_and_says_why_one_fails(line_sandbox):
    channel = line_sandbox.add_channel()
    user = line_sandbox.add_user(display_name="はなこ")
    line_sandbox.set_friendship(channel["channel_id"], user["user_id"], "friend")
    dead = "http://127.0.0.1:9/nothing-listens-here.jpg"
    assert _push(line_sandbox, channel, user, [{"type": "image", "originalContentUrl": dead,
                                                "previewImageUrl": dead}]).status_code == 200
    answer = requests.get(f"{line_sandbox.url}/phone/api/media", params={"url": dead}, timeout=10)
    assert answer.status_code == 502 and "unreachable" in answer.json()["error"]
    never_sent = requests.get(f"{line_sandbox.url}/phone/api/media", params={"url": "http://127.0.0.1:9/x"}, timeout=5)
    assert never_sent.status_code == 404  # no open proxy
