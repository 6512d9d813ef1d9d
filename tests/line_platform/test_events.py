"""Processing events from the sandbox: friends, messages, unsend, edits, media, order."""

import sqlalchemy as sa

from crm.conversations.models import LineFriend, LineMessage
from crm.extensions import db as _db


def _event(type_, user_id, ts, event_id, **extra):
    return {"type": type_, "mode": "active", "timestamp": ts, "webhookEventId": event_id,
            "source": {"type": "user", "userId": user_id}, "deliveryContext": {"isRedelivery": False}, **extra}


def _relay(client, line_shop, user, event):
    """Have the sandbox build a real event for `user`, then deliver it to the app."""
    built = line_shop.sandbox.send(line_shop.sandbox_channel["channel_id"], user["user_id"], event)["event"]
    response = line_shop.post_events(client, [built])
    assert response.status_code == 200
    return built


def _friend(line_user_id):
    return _db.session.scalars(sa.select(LineFriend).where(LineFriend.line_user_id == line_user_id)).one()


def test_follow_creates_the_friend_with_profile(client, line_shop):
    user = line_shop.sandbox.add_user(display_name="はなこ🌸", picture_url="http://127.0.0.1/p.png")
    _relay(client, line_shop, user, {"type": "follow"})
    friend = _friend(user["user_id"])
    assert friend.display_name == "はなこ🌸"
    assert friend.followed and friend.customer_id is None and friend.profile_fetched_at


def test_text_from_unlinked_friend_is_kept_and_listed(client, auth, line_shop):
    user = line_shop.sandbox.add_user(display_name="ゆみ")
    _relay(client, line_shop, user, {"type": "follow"})
    _relay(client, line_shop, user, {"type": "message", "message": {"type": "text", "text": "こんにちは"}})
    auth.login(line_shop.owner)
    listing = client.get("/line/friends/unlinked").get_data(as_text=True)
    assert "ゆみ" in listing and "メッセージ 1件" in listing
    friend = _friend(user["user_id"])
    page = client.get(f"/line/friends/{friend.id}").get_data(as_text=True)
    assert "こんにちは" in page


def test_message_to_linked_customer_shows_in_the_line_tab(client, auth, line_shop):
    from tests.factories import make_customer

    user = line_shop.sandbox.add_user(display_name="たろう")
    _relay(client, line_shop, user, {"type": "follow"})
    customer = make_customer(line_shop.shop)
    friend = _friend(user["user_id"])
    friend.customer_id = customer.id
    _db.session.flush()
    _relay(client, line_shop, user, {"type": "message", "message": {"type": "sticker", "packageId": "446", "stickerId": "1988"}})
    _relay(client, line_shop, user, {"type": "message", "message": {"type": "text", "text": "予約したいです"}})
    auth.login(line_shop.owner)
    html = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert "予約したいです" in html and "スタンプ" in html
    assert html.index("スタンプ") < html.index("予約したいです")


def test_unsend_hides_the_message_and_marks_it(client, auth, line_shop):
    user = line_shop.sandbox.add_user(display_name="ゆみ")
    sent = _relay(client, line_shop, user, {"type": "message", "message": {"type": "text", "text": "まちがい"}})
    _relay(client, line_shop, user, {"type": "unsend", "messageId": sent["message"]["id"]})
    message = _db.session.scalars(sa.select(LineMessage)).one()
    assert message.unsent_at is not None
    auth.login(line_shop.owner)
    page = client.get(f"/line/friends/{message.friend_id}").get_data(as_text=True)
    assert "取り消し" in page and "まちがい" not in page


def test_message_edited_replaces_the_text_and_keeps_history(client, line_shop):
    user_id = "U" + "c" * 32
    first = _event("message", user_id, 1700000000000, "01EDIT1", replyToken="t",
                   message={"id": "555", "type": "text", "text": "明日10時"})
    edited = _event("messageEdited", user_id, 1700000005000, "01EDIT2",
                    message={"id": "555", "type": "text", "text": "明日11時"})
    line_shop.post_events(client, [first])
    line_shop.post_events(client, [edited])
    message = _db.session.scalars(sa.select(LineMessage)).one()
    assert message.text == "明日11時" and message.edited_at is not None
    assert message.payload["edits"][0]["text"] == "明日10時"


def test_state_follows_event_time_not_arrival(client, line_shop):
    user_id = "U" + "d" * 32
    follow = _event("follow", user_id, 1700000000000, "01ORDER1", replyToken="t")
    unfollow = _event("unfollow", user_id, 1700000060000, "01ORDER2")
    line_shop.post_events(client, [unfollow])  # the later event arrives first
    line_shop.post_events(client, [follow])
    assert _friend(user_id).followed is False


def test_standby_events_are_stored_but_never_answerable(client, line_shop):
    user_id = "U" + "e" * 32
    event = _event("message", user_id, 1700000000000, "01STANDBY", mode="standby",
                   message={"id": "900", "type": "text", "text": "hi"})
    event["replyToken"] = "should-not-be-used"
    assert line_shop.post_events(client, [event]).status_code == 200
    assert _friend(user_id).reply_token is None
    assert _db.session.scalars(sa.select(LineMessage)).one().text == "hi"


def test_image_is_downloaded_and_served(client, auth, line_shop):
    import base64

    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    user = line_shop.sandbox.add_user(display_name="写真の人")
    _relay(client, line_shop, user, {"type": "message", "message": {
        "type": "image", "content_base64": base64.b64encode(png).decode(), "content_type": "image/png"}})
    message = _db.session.scalars(sa.select(LineMessage)).one()
    _db.session.refresh(message)
    assert message.media_status == "stored" and message.media_content_type == "image/png"
    auth.login(line_shop.owner)
    with client.get(f"/line/media/{message.id}") as response:
        assert response.status_code == 200 and response.data == png
    page = client.get(f"/line/friends/{message.friend_id}").get_data(as_text=True)
    assert f'src="/line/media/{message.id}"' in page
