"""State: kept across restarts in the state file, consistent under concurrency."""
import json
from concurrent.futures import ThreadPoolExecutor

import requests

from line_sandbox import create_app


def _world(client):
    client.post("/_sandbox/channels", json={"channel_id": "1001", "channel_secret": "s" * 32,
                                            "channel_access_token": "token-1001", "bot_name": "サロン"})
    user = client.post("/_sandbox/users", json={"display_name": "小林 愛"}).json
    client.post(f"/_sandbox/channels/1001/users/{user['user_id']}/events", json={"type": "follow"})
    return user


def test_state_file_keeps_the_world_across_restarts(tmp_path, line_spec_dir):
    path = tmp_path / "var" / "line_sandbox.json"
    first = create_app(path, line_spec_dir).test_client()
    user = _world(first)
    first.post("/_sandbox/faults", json={"path": "/v2/*", "status": 500})
    pushed = first.post("/v2/bot/message/push", headers={"Authorization": "Bearer token-1001"},
                        json={"to": user["user_id"], "messages": [{"type": "text", "text": "また来てね"}]})
    assert pushed.status_code == 500
    first.delete("/_sandbox/faults")
    assert first.post("/v2/bot/message/push", headers={"Authorization": "Bearer token-1001"},
                      json={"to": user["user_id"], "messages": [{"type": "text", "text": "また来てね"}]}).status_code == 200
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert "requests" not in saved and "faults" not in saved

    second = create_app(path, line_spec_dir).test_client()
    chat = second.get(f"/_sandbox/channels/1001/users/{user['user_id']}/chat").json
    assert [e["from"] for e in chat] == ["user", "bot"]
    assert chat[1]["messages"][0]["text"] == "また来てね"
    assert second.get("/_sandbox/channels/1001/requests").json == []  # the request log is not kept
    assert second.get("/v2/bot/info", headers={"Authorization": "Bearer token-1001"}).json["displayName"] == "サロン"


def test_reset_empties_everything(line_sandbox, channel, friend):
    line_sandbox.fault("/v2/bot/info", status=500)
    line_sandbox.reset()
    assert requests.get(f"{line_sandbox.url}/_sandbox/channels", timeout=5).json() == []
    assert requests.get(f"{line_sandbox.url}/_sandbox/faults", timeout=5).json() == []


def test_concurrent_pushes_and_events_stay_consistent(line_sandbox, channel, friend, webhook_receiver):
    headers = {"Authorization": f"Bearer {channel['channel_access_token']}"}

    def push(i):
        return requests.post(f"{line_sandbox.url}/v2/bot/message/push", headers=headers, timeout=10,
                             json={"to": friend["user_id"], "messages": [{"type": "text", "text": f"#{i}"}]})

    def talk(i):
        return line_sandbox.text(channel["channel_id"], friend["user_id"], f"msg {i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        pushes = list(pool.map(push, range(16)))
        events = list(pool.map(lambda i: requests.post(
            f"{line_sandbox.url}/_sandbox/channels/{channel['channel_id']}/users/{friend['user_id']}/events",
            json={"type": "message", "message": {"type": "text", "text": f"m{i}"}}, timeout=10).json(), range(16)))
    assert all(p.status_code == 200 for p in pushes)
    ids = [p.json()["sentMessages"][0]["id"] for p in pushes] + [e["event"]["message"]["id"] for e in events]
    assert len(set(ids)) == 32
    assert len(line_sandbox.sent(channel["channel_id"])) == 16
    assert requests.get(f"{line_sandbox.url}/v2/bot/message/quota/consumption", headers=headers, timeout=5).json() == {"totalUsage": 16}
    assert len(webhook_receiver.received) == 16 + 1  # + the friend's follow
    assert talk(99)["delivery"]["status_code"] == 200
