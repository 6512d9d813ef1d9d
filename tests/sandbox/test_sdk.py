"""line-bot-sdk v3, pointed at the sandbox, works as it does against LINE."""
import uuid

import pytest
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    FlexContainer,
    FlexMessage,
    MessagingApi,
    MessagingApiBlob,
    PostbackAction,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    StickerMessage,
    TextMessage,
)

LINE_DATA_HOST = "https://api-data.line.me"


class SandboxApiClient(ApiClient):
    """The SDK hard-codes api-data.line.me for content calls: send them to the sandbox too."""

    def call_api(self, *args, **kwargs):
        if kwargs.get("_host") == LINE_DATA_HOST:
            kwargs["_host"] = self.configuration.host
        return super().call_api(*args, **kwargs)


@pytest.fixture
def sdk(line_sandbox, channel):
    configuration = Configuration(host=line_sandbox.url, access_token=channel["channel_access_token"])
    with SandboxApiClient(configuration) as client:
        yield MessagingApi(client), MessagingApiBlob(client)


def test_push_with_retry_key(line_sandbox, channel, friend, sdk):
    messaging, _ = sdk
    key = str(uuid.uuid4())
    flex = FlexMessage(alt_text="ご予約の確認", contents=FlexContainer.from_dict({
        "type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": "1月2日 10:00 カット", "wrap": True},
            {"type": "button", "action": {"type": "postback", "label": "キャンセル", "data": "cancel=1"}}]}}))
    request = PushMessageRequest(to=friend["user_id"], messages=[
        TextMessage(text="ご予約ありがとうございます"), StickerMessage(package_id="446", sticker_id="1988"), flex])

    response = messaging.push_message_with_http_info(request, x_line_retry_key=key)
    assert response.status_code == 200
    assert len(response.data.sent_messages) == 3 and response.data.sent_messages[0].quote_token
    request_id = response.headers["x-line-request-id"]

    with pytest.raises(ApiException) as conflict:
        messaging.push_message(request, x_line_retry_key=key)
    assert conflict.value.status == 409
    assert conflict.value.headers["x-line-accepted-request-id"] == request_id
    assert line_sandbox.retry_keys(channel["channel_id"]) == {key: 1}
    (sent,) = line_sandbox.sent(channel["channel_id"])
    assert [m["type"] for m in sent["messages"]] == ["text", "sticker", "flex"]


def test_reply_bot_info_and_profile(line_sandbox, channel, friend, sdk):
    messaging, _ = sdk
    token = line_sandbox.text(channel["channel_id"], friend["user_id"], "こんにちは")["event"]["replyToken"]
    reply = messaging.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="いらっしゃいませ")]))
    assert reply.sent_messages[0].id.isdigit()
    with pytest.raises(ApiException) as invalid:
        messaging.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="again")]))
    assert invalid.value.status == 400 and "Invalid reply token" in invalid.value.body

    info = messaging.get_bot_info()
    assert info.display_name == "サロン・ド・テスト" and info.user_id == channel["bot_user_id"]
    assert info.chat_mode == "bot" and info.mark_as_read_mode == "auto"
    profile = messaging.get_profile(friend["user_id"])
    assert profile.display_name == "佐藤 美咲" and profile.user_id == friend["user_id"] and profile.language == "ja"


def test_invalid_body_and_bad_token_through_the_sdk(line_sandbox, friend, sdk):
    messaging, _ = sdk
    with pytest.raises(ApiException) as too_long:
        messaging.push_message(PushMessageRequest(to=friend["user_id"], messages=[TextMessage(text="x" * 5001)]))
    assert too_long.value.status == 400 and "messages[0].text" in too_long.value.body
    configuration = Configuration(host=line_sandbox.url, access_token="wrong")
    with ApiClient(configuration) as client, pytest.raises(ApiException) as unauthorized:
        MessagingApi(client).get_bot_info()
    assert unauthorized.value.status == 401


def test_message_content_through_the_blob_api(line_sandbox, channel, friend, sdk):
    _, blob = sdk
    jpeg = b"\xff\xd8\xff\xe0 a photo of a haircut"
    event = line_sandbox.send(channel["channel_id"], friend["user_id"], {"type": "message", "message": {"type": "image"}},
                              files={"file": ("cut.jpg", jpeg, "image/jpeg")})["event"]
    assert bytes(blob.get_message_content(event["message"]["id"])) == jpeg
    status = blob.get_message_content_transcoding_by_message_id(event["message"]["id"])
    assert status.status == "succeeded"


def test_rich_menu_through_the_sdk(line_sandbox, friend, sdk):
    messaging, blob = sdk
    menu = RichMenuRequest(size=RichMenuSize(width=2500, height=843), selected=False, name="main", chat_bar_text="メニュー",
                           areas=[RichMenuArea(bounds=RichMenuBounds(x=0, y=0, width=2500, height=843),
                                               action=PostbackAction(label="予約", data="action=book"))])
    rich_menu_id = messaging.create_rich_menu(menu).rich_menu_id
    blob.set_rich_menu_image(rich_menu_id, body=b"\x89PNG fake", _headers={"Content-Type": "image/png"})
    messaging.link_rich_menu_id_to_user(friend["user_id"], rich_menu_id)
    assert messaging.get_rich_menu_id_of_user(friend["user_id"]).rich_menu_id == rich_menu_id
    assert messaging.get_rich_menu(rich_menu_id).areas[0].action.data == "action=book"
