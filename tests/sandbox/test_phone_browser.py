"""The phone page in headless Chromium: a LINE user talks to a shop that answers.

Playwright's sync API cannot start on a thread where another sync Playwright
is running (tests/browser keeps one for the whole session), so this test
drives its own Chromium from a worker thread.
"""
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d4944415478da63646060f80f0002850100e0b64ea90000000049454e44ae426082")
MENU = {
    "size": {"width": 2500, "height": 843}, "selected": True, "name": "main", "chatBarText": "メニュー",
    "areas": [
        {"bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
         "action": {"type": "postback", "label": "予約する", "data": "action=book", "displayText": "予約する"}},
        {"bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},
         "action": {"type": "message", "label": "営業時間", "text": "営業時間を教えて"}},
    ],
}
FLEX_REPLY = {"type": "flex", "altText": "ご予約メニュー", "contents": {"type": "bubble", "body": {
    "type": "box", "layout": "vertical", "contents": [
        {"type": "text", "text": "カット ¥4,400"},
        {"type": "button", "action": {"type": "postback", "label": "カットを予約", "data": "book=cut"}},
        {"type": "button", "action": {"type": "uri", "label": "予約ページ", "uri": "http://127.0.0.1:9/booking"}}]}}}


@pytest.fixture
def shop_bot(line_sandbox, channel, webhook_receiver):
    """A bot that answers every text with two lines and a flex menu."""
    headers = {"Authorization": f"Bearer {channel['channel_access_token']}"}

    def answer(record):
        event = json.loads(record["body"])["events"][0]
        if event["type"] == "message" and event["message"]["type"] == "text":
            requests.post(f"{line_sandbox.url}/v2/bot/message/reply", headers=headers, timeout=5, json={
                "replyToken": event["replyToken"],
                "messages": [{"type": "text", "text": "ありがとうございます。\n確認します。"}, FLEX_REPLY]})
        return 200

    webhook_receiver.on_webhook = answer
    menu = requests.post(f"{line_sandbox.url}/v2/bot/richmenu", headers=headers, json=MENU, timeout=5).json()["richMenuId"]
    requests.post(f"{line_sandbox.url}/v2/bot/richmenu/{menu}/content", data=PNG, timeout=5,
                  headers={**headers, "Content-Type": "image/png"})
    requests.post(f"{line_sandbox.url}/v2/bot/user/all/richmenu/{menu}", headers=headers, timeout=5)
    return channel


def _in_chromium(scenario):
    """Run ``scenario(page)`` in a fresh headless Chromium on a worker thread."""

    def run():
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page(viewport={"width": 375, "height": 800})
                page.set_default_timeout(5000)
                scenario(page)
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result()


@pytest.mark.browser
def test_a_line_user_chats_with_the_shop(line_sandbox, shop_bot, webhook_receiver, tmp_path):
    user = line_sandbox.add_user(display_name="佐藤 花子")
    image = tmp_path / "hair.png"
    image.write_bytes(PNG)
    external = []
    _in_chromium(lambda page: _chat(page, line_sandbox, shop_bot, user, image, external))

    events = [json.loads(r["body"])["events"][0] for r in webhook_receiver.received]
    kinds = [(e["type"], e.get("message", {}).get("type") or e.get("postback", {}).get("data")) for e in events]
    assert kinds == [("follow", None), ("message", "text"), ("postback", "book=cut"), ("message", "text"),
                     ("message", "sticker"), ("message", "image"), ("message", "location")]
    assert events[1]["message"]["text"] == "予約したいです" and events[4]["message"]["packageId"] == "446"
    assert external == []


def _chat(page, line_sandbox, shop_bot, user, image, external):
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(line_sandbox.url) and not r.url.startswith("data:") else None)
    page.goto(f"{line_sandbox.url}/phone/{shop_bot['channel_id']}/{user['user_id']}")

    page.get_by_role("button", name="友だち追加").click()
    expect(page.get_by_text("友だち追加しました")).to_be_visible()
    expect(page.locator(".meta").first).to_contain_text("webhook 200")

    page.get_by_label("メッセージ").fill("予約したいです")
    page.get_by_label("メッセージ").press("Enter")
    expect(page.locator(".row--bot .bubble").first).to_have_text("ありがとうございます。\n確認します。")
    expect(page.get_by_role("link", name="予約ページ")).to_have_attribute("href", "http://127.0.0.1:9/booking")

    page.get_by_role("button", name="カットを予約").click()
    expect(page.get_by_text("（ポストバック: book=cut）")).to_be_visible()
    page.get_by_role("button", name="営業時間").click()
    expect(page.locator(".row--user .bubble", has_text="営業時間を教えて")).to_be_visible()
    page.get_by_role("button", name="スタンプ").click()
    page.locator(".palette__sticker").first.click()
    expect(page.locator(".row--user .sticker")).to_be_visible()
    page.locator("#image-input").set_input_files(str(image))
    expect(page.locator(".row--user img")).to_be_visible()
    page.locator("#location-toggle").click()
    page.get_by_role("button", name="位置情報を送信").click()
    expect(page.locator(".row--user .bubble", has_text="東京駅")).to_be_visible()
