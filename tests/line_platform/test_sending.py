"""The send pipeline against the sandbox: reply vs push, retry keys, failures, limits."""
import sqlalchemy as sa

from crm.conversations.models import LineFriend, LineMessage, SendStatus
from crm.extensions import db as _db
from crm.shops.models import LineChannelStatus
from tests.factories import make_customer, make_staff

PUSH = "/v2/bot/message/push"


def _linked_friend(client, line_shop, follow=True):
    """A customer linked to a sandbox friend; with follow=False its reply token is spent."""
    user = line_shop.sandbox.add_user(display_name="はなこ")
    cid = line_shop.sandbox_channel["channel_id"]
    built = line_shop.sandbox.send(cid, user["user_id"], {"type": "follow"})["event"]
    line_shop.post_events(client, [built])
    friend = _db.session.scalars(sa.select(LineFriend).where(LineFriend.line_user_id == user["user_id"])).one()
    customer = make_customer(line_shop.shop)
    friend.customer_id = customer.id
    if not follow:
        friend.reply_token = None
    _db.session.flush()
    return customer, friend, user


def _send(client, customer, text):
    return client.post_form(f"/customers/{customer.id}/line/messages", {"text": text})


def _outgoing():
    return _db.session.scalars(sa.select(LineMessage).where(LineMessage.direction == "out")).all()


def _pushes(line_shop):
    return [r for r in line_shop.sandbox.requests(line_shop.sandbox_channel["channel_id"]) if r["path"] == PUSH]


def test_fresh_reply_token_is_used_first_then_push(client, auth, line_shop):
    customer, friend, user = _linked_friend(client, line_shop)
    auth.login(line_shop.owner)
    assert _send(client, customer, "ご予約ありがとうございます").status_code == 302
    assert _send(client, customer, "当日お待ちしております").status_code == 302
    sent = line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])
    assert [s["via"] for s in sent] == ["reply", "push"]
    assert sent[0]["messages"][0]["text"] == "ご予約ありがとうございます"
    first, second = sorted(_outgoing(), key=lambda m: m.id)
    assert first.status == second.status == SendStatus.SENT
    assert first.via == "reply" and second.via == "push"
    assert first.sender_id == second.sender_id == line_shop.owner.id
    html = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert "送信済み" in html and line_shop.owner.name in html


def test_push_carries_a_retry_key_and_a_500_retry_delivers_once(client, auth, line_shop):
    customer, friend, user = _linked_friend(client, line_shop, follow=False)
    line_shop.sandbox.fault(PUSH, status=500, times=1)
    auth.login(line_shop.owner)
    _send(client, customer, "明日は10時からです")
    (message,) = _outgoing()
    assert message.status == SendStatus.SENT and message.attempts == 2
    pushes = _pushes(line_shop)
    assert [p["status"] for p in pushes] == [500, 200]
    keys = {p["headers"]["X-Line-Retry-Key"] for p in pushes}
    assert keys == {message.retry_key}
    assert line_shop.sandbox.retry_keys(line_shop.sandbox_channel["channel_id"]) == {message.retry_key: 1}
    assert len(line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])) == 1


def test_429_and_timeouts_are_retried(client, auth, line_shop, app, monkeypatch):
    monkeypatch.setitem(app.config, "LINE_API_TIMEOUT", 0.5)
    customer, friend, user = _linked_friend(client, line_shop, follow=False)
    line_shop.sandbox.fault(PUSH, status=429, times=1)
    line_shop.sandbox.fault(PUSH, delay_seconds=1.5, times=1)
    auth.login(line_shop.owner)
    _send(client, customer, "リトライ")
    (message,) = _outgoing()
    assert message.status == SendStatus.SENT
    assert len(line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])) == 1


def test_a_400_is_not_retried_and_shows_lines_reason(client, auth, line_shop):
    customer, friend, user = _linked_friend(client, line_shop, follow=False)
    line_shop.sandbox.fault(PUSH, status=400, body={"message": "The request body has 1 error(s)",
                                                     "details": [{"message": "May not be empty", "property": "messages[0].text"}]})
    auth.login(line_shop.owner)
    _send(client, customer, "失敗する")
    (message,) = _outgoing()
    assert message.status == SendStatus.FAILED and message.attempts == 1
    assert "The request body has 1 error(s)" in message.failure_reason
    assert len(_pushes(line_shop)) == 1
    html = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert "失敗" in html and "The request body has 1 error(s)" in html


def test_exhausted_retries_fail_with_the_reason(client, auth, line_shop, app, monkeypatch):
    monkeypatch.setitem(app.config, "LINE_SEND_ATTEMPTS", 3)
    customer, friend, user = _linked_friend(client, line_shop, follow=False)
    line_shop.sandbox.fault(PUSH, status=503, times=5)
    auth.login(line_shop.owner)
    _send(client, customer, "届かない")
    (message,) = _outgoing()
    assert message.status == SendStatus.FAILED and message.attempts == 3
    assert message.failure_reason.startswith("503")


def test_409_means_already_accepted(client, auth, line_shop):
    from crm.line_platform.sending import deliver

    customer, friend, user = _linked_friend(client, line_shop, follow=False)
    auth.login(line_shop.owner)
    _send(client, customer, "一度だけ")
    (message,) = _outgoing()
    # A rerun after a crash: the row is back to queued, LINE already has the key.
    message.status = SendStatus.QUEUED
    _db.session.flush()
    deliver(message.id)
    assert message.status == SendStatus.SENT
    assert [p["status"] for p in _pushes(line_shop)] == [200, 409]
    assert len(line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])) == 1


def test_text_over_5000_utf16_units_is_refused_before_sending(client, auth, line_shop):
    customer, friend, user = _linked_friend(client, line_shop)
    auth.login(line_shop.owner)
    text = "😀" * 2501  # 2,501 characters, 5,002 UTF-16 units
    response = _send(client, customer, text)
    assert response.status_code == 422
    assert "メッセージが長すぎます（5002 / 5000 文字）。" in response.get_data(as_text=True)
    assert _outgoing() == []
    assert line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"]) == []
    assert _send(client, customer, "😀" * 2500).status_code == 302


def test_401_marks_the_channel_misconfigured_and_tells_the_owner(client, auth, line_shop):
    customer, friend, user = _linked_friend(client, line_shop, follow=False)
    line_shop.channel.channel_access_token = "revoked-token-xxxxxxxxxxxxxxxx"
    _db.session.flush()
    auth.login(line_shop.owner)
    _send(client, customer, "x")
    (message,) = _outgoing()
    assert message.status == SendStatus.FAILED and message.failure_reason.startswith("401")
    _db.session.refresh(line_shop.channel)
    assert line_shop.channel.status == LineChannelStatus.MISCONFIGURED
    assert "設定に問題があります" in client.get("/settings/line").get_data(as_text=True)


def test_staff_who_need_approval_cannot_send(client, auth, line_shop):
    customer, friend, user = _linked_friend(client, line_shop)
    staff = make_staff(line_shop.shop)
    auth.login(staff)
    assert client.htmx_get(f"/customers/{customer.id}/line", "customer-tabs").status_code == 200
    assert _send(client, customer, "勝手に送信").status_code == 403
    assert _outgoing() == []


def test_every_request_body_the_app_sent_validated_against_the_spec(client, auth, line_shop):
    customer, friend, user = _linked_friend(client, line_shop)
    auth.login(line_shop.owner)
    _send(client, customer, "返信")
    _send(client, customer, "プッシュ\n二行目")
    log = line_shop.sandbox.requests(line_shop.sandbox_channel["channel_id"])
    assert log and all(r["status"] < 400 for r in log), log


REPLY = "/v2/bot/message/reply"


def _wait_for_sent(line_shop, count, seconds=10):
    """The sandbox finishes a delayed request after the client gave up: wait until it has (not a timing assertion)."""
    import time

    cid = line_shop.sandbox_channel["channel_id"]
    deadline = time.monotonic() + seconds
    while len(line_shop.sandbox.sent(cid)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return line_shop.sandbox.sent(cid)


def test_a_reply_that_times_out_is_never_pushed_and_staff_can_resend_it(client, auth, line_shop, app, monkeypatch):
    monkeypatch.setitem(app.config, "LINE_API_TIMEOUT", 0.5)
    customer, friend, user = _linked_friend(client, line_shop)
    line_shop.sandbox.fault(REPLY, delay_seconds=1.5, times=1)  # LINE accepts it, after the app stopped waiting
    auth.login(line_shop.owner)
    _send(client, customer, "一度だけ届く")
    (message,) = _outgoing()
    assert message.status == SendStatus.UNCONFIRMED and message.via == "reply"
    sent = _wait_for_sent(line_shop, 1)
    assert [s["via"] for s in sent] == ["reply"]
    assert _pushes(line_shop) == []
    from crm.line_tab.scheduling import tick

    assert tick()["resent"] == 0  # the safety net does not push it either
    assert _pushes(line_shop) == []
    html = client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    assert "送信状況を確認できません" in html and f"/line/messages/{message.id}/resend" in html

    # Staff decide it did not arrive: 再送 pushes it, with the message's retry key.
    assert client.post_form(f"/line/messages/{message.id}/resend").status_code == 302
    _db.session.expire_all()
    assert message.status == SendStatus.SENT and message.via == "push"
    (push,) = _pushes(line_shop)
    assert push["headers"]["X-Line-Retry-Key"] == message.retry_key
    # A second click finds nothing to resend.
    assert client.post_form(f"/line/messages/{message.id}/resend").status_code == 409
    assert len(_pushes(line_shop)) == 1


def test_a_connection_reset_after_the_reply_was_sent_is_not_pushed(client, auth, line_shop, monkeypatch):
    from linebot.v3.messaging import MessagingApi
    from urllib3.exceptions import ProtocolError

    def reset(self, *args, **kwargs):
        raise ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))

    customer, friend, user = _linked_friend(client, line_shop)
    monkeypatch.setattr(MessagingApi, "reply_message_with_http_info", reset)
    auth.login(line_shop.owner)
    _send(client, customer, "リセット")
    (message,) = _outgoing()
    assert message.status == SendStatus.UNCONFIRMED
    assert _pushes(line_shop) == []


def test_a_reply_that_could_not_connect_falls_back_to_push(client, auth, line_shop, monkeypatch):
    from linebot.v3.messaging import MessagingApi
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    def refused(self, *args, **kwargs):
        raise MaxRetryError(None, "/v2/bot/message/reply", NewConnectionError(None, "Connection refused"))

    customer, friend, user = _linked_friend(client, line_shop)
    monkeypatch.setattr(MessagingApi, "reply_message_with_http_info", refused)
    auth.login(line_shop.owner)
    _send(client, customer, "未接続")
    (message,) = _outgoing()
    assert message.status == SendStatus.SENT and message.via == "push"
    assert len(_pushes(line_shop)) == 1


def test_an_invalid_reply_token_falls_back_to_one_push(client, auth, line_shop):
    customer, friend, user = _linked_friend(client, line_shop)
    line_shop.sandbox.expire_reply_token(friend.reply_token)
    auth.login(line_shop.owner)
    _send(client, customer, "プッシュで届く")
    (message,) = _outgoing()
    assert message.status == SendStatus.SENT and message.via == "push"
    replies = [r for r in line_shop.sandbox.requests(line_shop.sandbox_channel["channel_id"]) if r["path"] == REPLY]
    assert [r["status"] for r in replies] == [400]
    (push,) = _pushes(line_shop)
    assert push["headers"]["X-Line-Retry-Key"] == message.retry_key
    assert [s["via"] for s in line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])] == ["push"]


def test_only_staff_who_send_directly_may_resend(client, auth, line_shop):
    customer, friend, user = _linked_friend(client, line_shop, follow=False)
    message = LineMessage(shop_id=friend.shop_id, friend_id=friend.id, direction="out", message_type="text",
                          text="x", payload={"messages": [{"type": "text", "text": "x"}]},
                          status=SendStatus.UNCONFIRMED, retry_key="00000000-0000-4000-8000-000000000012")
    _db.session.add(message)
    _db.session.flush()
    auth.login(make_staff(line_shop.shop))
    assert client.post_form(f"/line/messages/{message.id}/resend").status_code == 403
    assert _pushes(line_shop) == []
