"""The Messaging API as the sandbox serves it: validation, sending rules, faults."""
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

FLEX = {
    "type": "flex", "altText": "ご予約の確認",
    "contents": {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": "明日 10:00 カット", "weight": "bold"},
            {"type": "button", "action": {"type": "postback", "label": "変更する", "data": "action=change&id=1"}},
            {"type": "button", "action": {"type": "uri", "label": "地図", "uri": "https://example.com/map"}},
        ]},
    },
}


def push(api, to, messages, retry_key=None):
    headers = {"X-Line-Retry-Key": retry_key} if retry_key else {}
    return api.post("/v2/bot/message/push", json={"to": to, "messages": messages}, headers=headers)


@pytest.mark.parametrize("message", [
    {"type": "text", "text": "こんにちは\n明日のご予約です"},
    {"type": "sticker", "packageId": "446", "stickerId": "1988"},
    FLEX,
    {"type": "image", "originalContentUrl": "https://example.com/a.jpg", "previewImageUrl": "https://example.com/p.jpg"},
])
def test_valid_push_is_accepted_and_delivered(line_sandbox, channel, friend, api, message):
    response = push(api, friend["user_id"], [message])

    assert response.status_code == 200, response.text
    assert response.headers["x-line-request-id"]
    (sent_message,) = response.json()["sentMessages"]
    assert sent_message["id"].isdigit()
    (sent,) = line_sandbox.sent(channel["channel_id"])
    assert sent["via"] == "push" and sent["to"] == friend["user_id"]
    assert sent["messages"] == [message]
    assert sent["request_id"] == response.headers["x-line-request-id"]


@pytest.mark.parametrize(("messages", "detail"), [
    ([{"type": "text"}], {"message": "must be specified", "property": "messages[0].text"}),
    ([{"type": "sticker", "packageId": "446"}], {"message": "must be specified", "property": "messages[0].stickerId"}),
    ([{"type": "text", "text": "x"}] * 6, {"message": "Size must be between 1 and 5", "property": "messages"}),
    ([{"type": "text", "text": "あ" * 5001}], {"message": "Length must be between 0 and 5000", "property": "messages[0].text"}),
    ([{"type": "text", "text": "😀" * 2501}], {"message": "Length must be between 0 and 5000", "property": "messages[0].text"}),
    ([{"type": "flex", "altText": "x", "contents": {"type": "bubble", "body": {
        "type": "box", "layout": "sideways", "contents": []}}}],
     {"message": "must be one of horizontal, vertical, baseline", "property": "messages[0].contents.body.layout"}),
    ([{"type": "flex", "contents": FLEX["contents"]}], {"message": "must be specified", "property": "messages[0].altText"}),
    ([{"type": "template", "altText": "x", "template": {"type": "buttons", "text": "t", "actions": [
        {"type": "teleport", "label": "x"}]}}],
     {"message": "Invalid type: 'teleport'", "property": "messages[0].template.actions[0].type"}),
])
def test_invalid_push_is_refused_with_details(line_sandbox, channel, friend, api, messages, detail):
    response = push(api, friend["user_id"], messages)

    assert response.status_code == 400
    body = response.json()
    assert detail in body["details"]
    assert body["message"] == f"The request body has {len(body['details'])} error(s)"
    assert line_sandbox.sent(channel["channel_id"]) == []


def test_text_of_exactly_5000_utf16_units_is_accepted(friend, api):
    assert push(api, friend["user_id"], [{"type": "text", "text": "😀" * 2500}]).status_code == 200


def test_push_to_a_user_who_blocked_or_never_added_fails(line_sandbox, channel, friend, api):
    stranger = line_sandbox.add_user(display_name="通りすがり")
    assert push(api, stranger["user_id"], [{"type": "text", "text": "x"}]).json() == {"message": "Failed to send messages"}
    line_sandbox.send(channel["channel_id"], friend["user_id"], {"type": "unfollow"})
    response = push(api, friend["user_id"], [{"type": "text", "text": "x"}])
    assert response.status_code == 400 and response.json() == {"message": "Failed to send messages"}


def test_missing_or_unknown_token_is_401(line_sandbox, channel):
    expected = {"message": "Authentication failed. Confirm that the access token in the authorization header is valid."}
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = requests.get(line_sandbox.url + "/v2/bot/info", headers=headers, timeout=5)
        assert response.status_code == 401 and response.json() == expected


def test_reply_token_is_single_use_and_expires(line_sandbox, channel, friend, api):
    event = line_sandbox.text(channel["channel_id"], friend["user_id"], "予約したいです")["event"]
    token = event["replyToken"]
    reply = {"replyToken": token, "messages": [{"type": "text", "text": "承知しました"}]}

    first = api.post("/v2/bot/message/reply", json=reply)
    assert first.status_code == 200 and first.json()["sentMessages"][0]["quoteToken"]
    again = api.post("/v2/bot/message/reply", json=reply)
    assert again.status_code == 400 and again.json() == {"message": "Invalid reply token"}
    unknown = api.post("/v2/bot/message/reply", json={**reply, "replyToken": "0" * 32})
    assert unknown.json() == {"message": "Invalid reply token"}

    late = line_sandbox.text(channel["channel_id"], friend["user_id"], "まだですか")["event"]["replyToken"]
    line_sandbox.expire_reply_token(late)
    assert api.post("/v2/bot/message/reply", json={**reply, "replyToken": late}).status_code == 400
    (sent,) = line_sandbox.sent(channel["channel_id"])
    assert sent["via"] == "reply" and sent["to"] == friend["user_id"] and sent["retry_key"] is None


def test_reply_token_of_another_channel_is_invalid(line_sandbox, channel, friend, api):
    other = line_sandbox.add_channel(bot_name="別の店")
    token = line_sandbox.text(other["channel_id"], friend["user_id"], "hi")["event"]["replyToken"]
    response = api.post("/v2/bot/message/reply", json={"replyToken": token, "messages": [{"type": "text", "text": "x"}]})
    assert response.json() == {"message": "Invalid reply token"}


def test_standby_and_unfollow_events_have_no_reply_token(line_sandbox, channel, friend):
    standby = line_sandbox.send(channel["channel_id"], friend["user_id"],
                                {"type": "message", "mode": "standby", "message": {"type": "text", "text": "x"}})
    assert "replyToken" not in standby["event"] and standby["event"]["mode"] == "standby"
    assert "replyToken" not in line_sandbox.send(channel["channel_id"], friend["user_id"], {"type": "unfollow"})["event"]


def test_retry_key_is_accepted_once(line_sandbox, channel, friend, api):
    key = str(uuid.uuid4())
    first = push(api, friend["user_id"], [{"type": "text", "text": "明日はご予約日です"}], key)
    second = push(api, friend["user_id"], [{"type": "text", "text": "明日はご予約日です"}], key)

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["message"] == "The retry key is already accepted"
    assert second.json()["sentMessages"] == first.json()["sentMessages"]
    assert second.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert second.headers["x-line-request-id"] != first.headers["x-line-request-id"]
    assert line_sandbox.retry_keys(channel["channel_id"]) == {key: 1}
    assert len(line_sandbox.sent(channel["channel_id"])) == 1


def test_concurrent_pushes_with_one_retry_key_deliver_once(line_sandbox, channel, friend, api):
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: requests.post(
            line_sandbox.url + "/v2/bot/message/push", timeout=10,
            headers={"Authorization": f"Bearer {channel['channel_access_token']}", "X-Line-Retry-Key": key},
            json={"to": friend["user_id"], "messages": [{"type": "text", "text": "x"}]}).status_code, range(8)))
    assert sorted(statuses) == [200] + [409] * 7
    assert line_sandbox.retry_keys(channel["channel_id"]) == {key: 1}
    assert len(line_sandbox.sent(channel["channel_id"])) == 1


def test_retry_key_must_be_a_uuid(friend, api):
    response = push(api, friend["user_id"], [{"type": "text", "text": "x"}], "not-a-uuid")
    assert response.status_code == 400


def test_fault_500_then_success_with_the_same_retry_key(line_sandbox, channel, friend, api):
    line_sandbox.fault("/v2/bot/message/push", status=500)
    key = str(uuid.uuid4())

    failed = push(api, friend["user_id"], [{"type": "text", "text": "x"}], key)
    assert failed.status_code == 500 and failed.json()["message"]
    assert line_sandbox.sent(channel["channel_id"]) == []
    assert line_sandbox.retry_keys(channel["channel_id"]) == {}

    assert push(api, friend["user_id"], [{"type": "text", "text": "x"}], key).status_code == 200
    assert line_sandbox.retry_keys(channel["channel_id"]) == {key: 1}
    statuses = [(r["path"], r["status"], r["fault"]) for r in line_sandbox.requests(channel["channel_id"])]
    assert statuses[-2:] == [("/v2/bot/message/push", 500, True), ("/v2/bot/message/push", 200, False)]


def test_fault_429_with_custom_body_pattern_and_times(line_sandbox, channel, friend, api):
    line_sandbox.fault("/v2/bot/message/*", status=429, times=2, body={"message": "The API rate limit has been exceeded. Try again later."})
    assert push(api, friend["user_id"], [{"type": "text", "text": "x"}]).status_code == 429
    assert push(api, friend["user_id"], [{"type": "text", "text": "x"}]).json()["message"].startswith("The API rate limit")
    assert push(api, friend["user_id"], [{"type": "text", "text": "x"}]).status_code == 200
    assert api.get("/v2/bot/info").status_code == 200


def test_delay_fault_times_out_the_client_and_can_still_apply(line_sandbox, channel, friend, api):
    line_sandbox.fault("/v2/bot/message/push", delay_seconds=0.6)
    key = str(uuid.uuid4())
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        push_timeout = api.post("/v2/bot/message/push", json={"to": friend["user_id"], "messages": [
            {"type": "text", "text": "x"}]}, headers={"X-Line-Retry-Key": key}, timeout=0.2)
        assert push_timeout is None
    assert time.monotonic() - started < 0.6
    time.sleep(0.6)  # the sandbox finishes the slow request: LINE did accept it
    retried = push(api, friend["user_id"], [{"type": "text", "text": "x"}], key)
    assert retried.status_code == 409
    assert line_sandbox.retry_keys(channel["channel_id"]) == {key: 1}


def test_delay_with_status_is_a_slow_failure(line_sandbox, channel, friend, api):
    line_sandbox.fault("/v2/bot/message/push", status=503, delay_seconds=0.2)
    started = time.monotonic()
    assert push(api, friend["user_id"], [{"type": "text", "text": "x"}]).status_code == 503
    assert time.monotonic() - started >= 0.2
    assert line_sandbox.sent(channel["channel_id"]) == []


def test_cleared_faults_do_not_fire(line_sandbox, friend, api):
    line_sandbox.fault("/v2/bot/message/push", status=500, times=5)
    line_sandbox.clear_faults()
    assert push(api, friend["user_id"], [{"type": "text", "text": "x"}]).status_code == 200


def test_profile_of_friends_only(line_sandbox, channel, friend, api):
    profile = api.get(f"/v2/bot/profile/{friend['user_id']}").json()
    assert profile == {"displayName": "佐藤 美咲", "userId": friend["user_id"], "language": "ja",
                       "pictureUrl": "http://127.0.0.1/p.png", "statusMessage": "よろしく"}
    stranger = line_sandbox.add_user(display_name="知らない人")
    response = api.get(f"/v2/bot/profile/{stranger['user_id']}")
    assert response.status_code == 404 and response.json() == {"message": "Not found"}


def test_bot_info_quota_and_webhook_endpoint(line_sandbox, channel, friend, api, webhook_receiver):
    info = api.get("/v2/bot/info").json()
    assert info["displayName"] == "サロン・ド・テスト" and info["chatMode"] == "bot"
    assert info["userId"].startswith("U") and len(info["userId"]) == 33 and info["basicId"].startswith("@")
    assert api.get("/v2/bot/message/quota").json() == {"type": "limited", "value": 200}
    push(api, friend["user_id"], [{"type": "text", "text": "1"}, {"type": "text", "text": "2"}])
    token = line_sandbox.text(channel["channel_id"], friend["user_id"], "x")["event"]["replyToken"]
    api.post("/v2/bot/message/reply", json={"replyToken": token, "messages": [{"type": "text", "text": "free"}]})
    assert api.get("/v2/bot/message/quota/consumption").json() == {"totalUsage": 1}

    assert api.get("/v2/bot/channel/webhook/endpoint").json() == {"endpoint": webhook_receiver.url, "active": True}
    assert api.put("/v2/bot/channel/webhook/endpoint", json={}).status_code == 400
    new_url = webhook_receiver.url + "?v=2"
    assert api.put("/v2/bot/channel/webhook/endpoint", json={"endpoint": new_url}).status_code == 200
    assert api.get("/v2/bot/channel/webhook/endpoint").json()["endpoint"] == new_url
    result = api.post("/v2/bot/channel/webhook/test", json={}).json()
    assert result["success"] is True and result["statusCode"] == 200 and result["reason"] == "OK"
    webhook_receiver.status = 500
    failed = api.post("/v2/bot/channel/webhook/test", json={"endpoint": webhook_receiver.url}).json()
    assert failed == {**failed, "success": False, "statusCode": 500, "reason": "ERROR_STATUS_CODE", "detail": "500"}


def test_monthly_quota_is_enforced(line_sandbox, channel, friend, api):
    line_sandbox.add_channel(channel_id=channel["channel_id"], channel_secret=channel["channel_secret"],
                             channel_access_token=channel["channel_access_token"], quota=1)
    assert push(api, friend["user_id"], [{"type": "text", "text": "1"}]).status_code == 200
    over = push(api, friend["user_id"], [{"type": "text", "text": "2"}])
    assert over.status_code == 429 and over.json() == {"message": "You have reached your monthly limit."}


def test_image_content_and_video_transcoding(line_sandbox, channel, friend, api):
    jpeg = b"\xff\xd8\xff\xe0fake-jpeg"
    image = line_sandbox.send(channel["channel_id"], friend["user_id"], {"type": "message", "message": {"type": "image"}},
                              files={"file": ("photo.jpg", jpeg, "image/jpeg")})["event"]["message"]
    assert image["contentProvider"] == {"type": "line"}
    content = api.get(f"/v2/bot/message/{image['id']}/content")
    assert content.status_code == 200 and content.content == jpeg
    assert content.headers["Content-Type"] == "image/jpeg"

    video = line_sandbox.send(channel["channel_id"], friend["user_id"], {"type": "message", "message": {
        "type": "video", "content_base64": "AAAAGGZ0eXBtcDQy", "content_type": "video/mp4", "transcoding": "processing"}})
    video_id = video["event"]["message"]["id"]
    pending = api.get(f"/v2/bot/message/{video_id}/content")
    assert pending.status_code == 202 and pending.content == b""
    assert api.get(f"/v2/bot/message/{video_id}/content/transcoding").json() == {"status": "processing"}
    line_sandbox.transcode_done(channel["channel_id"], video_id)
    assert api.get(f"/v2/bot/message/{video_id}/content/transcoding").json() == {"status": "succeeded"}
    done = api.get(f"/v2/bot/message/{video_id}/content")
    assert done.status_code == 200 and done.headers["Content-Type"] == "video/mp4"
    assert api.get("/v2/bot/message/1/content").status_code == 404


def test_other_channels_cannot_read_content(line_sandbox, channel, friend, api):
    other = line_sandbox.add_channel(bot_name="別の店")
    sent = line_sandbox.send(other["channel_id"], friend["user_id"], {"type": "message", "message": {"type": "image"}})
    assert api.get(f"/v2/bot/message/{sent['event']['message']['id']}/content").status_code == 404


def test_request_log_redacts_the_token(line_sandbox, channel, friend, api):
    push(api, friend["user_id"], [{"type": "text", "text": "x"}], str(uuid.uuid4()))
    entry = line_sandbox.requests(channel["channel_id"])[-1]
    assert entry["headers"]["Authorization"] == "Bearer ***"
    assert "X-Line-Retry-Key" in entry["headers"]
    assert entry["body"]["messages"] == [{"type": "text", "text": "x"}]


def test_loading_and_mark_as_read(line_sandbox, channel, friend, api):
    assert api.post("/v2/bot/chat/loading/start", json={"chatId": friend["user_id"], "loadingSeconds": 5}).status_code == 202
    token = line_sandbox.text(channel["channel_id"], friend["user_id"], "x")["event"]["message"]["markAsReadToken"]
    assert api.post("/v2/bot/chat/markAsRead", json={"markAsReadToken": token}).status_code == 200
    assert api.post("/v2/bot/message/markAsRead", json={"chat": {"userId": friend["user_id"]}}).status_code == 200
    assert all(e.get("read") for e in line_sandbox.chat(channel["channel_id"], friend["user_id"]) if e["from"] == "user")


def test_unknown_paths_answer_json_like_line(api):
    missing = api.get("/v2/bot/no-such-endpoint")
    assert missing.status_code == 404 and missing.json() == {"message": "Not found"}
    assert api.request("PATCH", "/v2/bot/info").status_code == 405


def test_malformed_json_is_a_400(api):
    response = api.post("/v2/bot/message/push", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["details"][0]["message"] == "The request body is not valid JSON"


def test_seeded_friendship_sends_no_webhook(line_sandbox, channel, api, webhook_receiver):
    user = line_sandbox.add_user(display_name="デモ 友だち")
    assert push(api, user["user_id"], [{"type": "text", "text": "x"}]).status_code == 400
    line_sandbox.set_friendship(channel["channel_id"], user["user_id"])
    assert push(api, user["user_id"], [{"type": "text", "text": "x"}]).status_code == 200
    assert webhook_receiver.received == []
    line_sandbox.set_friendship(channel["channel_id"], user["user_id"], None)
    assert api.get(f"/v2/bot/profile/{user['user_id']}").status_code == 404
