"""The phone page: a LINE-like chat that loads nothing from the internet."""
import re

import requests


def test_phone_page_is_local_and_japanese(line_sandbox, channel, friend):
    page = requests.get(f"{line_sandbox.url}/phone/{channel['channel_id']}/{friend['user_id']}", timeout=5)
    assert page.status_code == 200
    html = page.text
    assert 'lang="ja"' in html and "メッセージを入力" in html and "友だち追加" in html
    assert f'data-channel-id="{channel["channel_id"]}"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for asset in ("phone.js", "phone.css"):
        body = requests.get(f"{line_sandbox.url}/phone/static/{asset}", timeout=5).text
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", body.replace("https://example.com", "")), asset
    assert requests.get(line_sandbox.url + "/", allow_redirects=False, timeout=5).headers["Location"].endswith("/phone")


def test_chat_json_shows_both_sides_and_delivery(line_sandbox, channel, friend, api):
    line_sandbox.text(channel["channel_id"], friend["user_id"], "改行\nあり")
    api.post("/v2/bot/message/push", json={"to": friend["user_id"], "messages": [{"type": "text", "text": "了解です"}]})
    image = line_sandbox.send(channel["channel_id"], friend["user_id"], {"type": "message", "message": {"type": "image"}})

    view = requests.get(f"{line_sandbox.url}/phone/api/chat/{channel['channel_id']}/{friend['user_id']}", timeout=5).json()
    assert view["friendship"] == "friend" and view["channel"]["bot_name"] == "サロン・ド・テスト"
    kinds = [(e["from"], e.get("via")) for e in view["entries"]]
    assert kinds == [("user", None), ("user", None), ("bot", "push"), ("user", None)]
    assert view["entries"][1]["delivery"]["status_code"] == 200
    assert view["entries"][2]["messages"][0]["text"] == "了解です"
    content_url = view["entries"][3]["content_url"]
    assert content_url == f"/phone/content/{image['event']['message']['id']}"
    assert requests.get(line_sandbox.url + content_url, timeout=5).headers["Content-Type"] == "image/png"


def test_directory_lists_users_channels_and_stickers(line_sandbox, channel, friend):
    directory = requests.get(f"{line_sandbox.url}/phone/api/directory", timeout=5).json()
    assert [c["bot_name"] for c in directory["channels"]] == ["サロン・ド・テスト"]
    assert [u["display_name"] for u in directory["users"]] == ["佐藤 美咲"]
    assert {"packageId": "446", "stickerId": "1988"}.items() <= directory["stickers"][0].items()


def test_authorize_page_loads_nothing_from_the_internet(line_sandbox, channel):
    login = line_sandbox.add_login_channel(bot_channel_id=channel["channel_id"])
    page = requests.get(f"{line_sandbox.url}/oauth2/v2.1/authorize", timeout=5, params={
        "response_type": "code", "client_id": login["channel_id"], "redirect_uri": "http://127.0.0.1/cb",
        "state": "s", "scope": "openid profile"}).text
    assert not re.search(r'(src|href)="(https?:)?//', page)
