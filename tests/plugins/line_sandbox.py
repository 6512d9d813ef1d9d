"""Pytest plugin: the LINE sandbox on a free local port, and a webhook receiver.

Fixtures:

* ``line_sandbox`` - the running sandbox, reset before the test: ``.url`` and
  helpers calling its control API (``add_channel``, ``add_user``, ``send``,
  ``sent``, ``retry_keys``, ``fault``, ``reset``...).  Point the app's
  line-bot-sdk ``Configuration(host=line_sandbox.url)`` at it.
* ``webhook_receiver`` - a tiny HTTP server that records the webhooks it
  receives (``.url``, ``.received``, ``.status``, ``.on_webhook``).
* ``line_spec_dir`` - where LINE's OpenAPI files are (``$LINE_SPEC_DIR``, else
  the copies shipped in ``line_sandbox/spec/``).

Both servers run once per session in background threads (werkzeug
``make_server``, threaded, so the sandbox can be hit concurrently and a
webhook handler can call the sandbox back).
"""
from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path

import pytest
import requests
from werkzeug.wrappers import Request, Response

from line_sandbox import create_app
from line_sandbox.schema import spec_dir
from tests.servers import ServerThread

REPO_ROOT = Path(__file__).resolve().parents[2]


def line_spec_path() -> Path:
    return spec_dir()




class LineSandbox:
    """A client of the sandbox's control API (``/_sandbox``)."""

    def __init__(self, url: str, app=None):
        self.url = url
        self.app = app
        self.http = requests.Session()

    def close(self):
        self.http.close()

    def _call(self, method: str, path: str, expect=(200, 201), **kwargs):
        response = self.http.request(method, self.url + path, timeout=30, **kwargs)
        if response.status_code not in expect:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json()

    # -- the world --------------------------------------------------------------
    def add_channel(self, channel_id=None, channel_secret=None, channel_access_token=None,
                    bot_name="テストサロン", webhook_url=None, **extra) -> dict:
        body = {"channel_id": channel_id or str(2000000000 + secrets.randbelow(10 ** 9)),
                "channel_secret": channel_secret or secrets.token_hex(16),
                "channel_access_token": channel_access_token or secrets.token_urlsafe(32),
                "bot_name": bot_name, **extra}
        if webhook_url is not None:
            body["webhook_url"] = webhook_url
        return self._call("POST", "/_sandbox/channels", json=body)

    def update_channel(self, channel_id: str, **fields) -> dict:
        """Change settings of an existing channel (e.g. ``quota=1``, the month's message quota), keeping the rest."""
        channel = self._call("GET", f"/_sandbox/channels/{channel_id}")
        keys = {k: channel[k] for k in ("channel_id", "channel_secret", "channel_access_token")}
        return self._call("POST", "/_sandbox/channels", json={**keys, **fields})

    def add_login_channel(self, channel_id=None, channel_secret=None, bot_channel_id=None, **extra) -> dict:
        body = {"channel_id": channel_id or str(1600000000 + secrets.randbelow(10 ** 8)),
                "channel_secret": channel_secret or secrets.token_hex(16), **extra}
        if bot_channel_id:
            body["bot_channel_id"] = bot_channel_id
        return self._call("POST", "/_sandbox/login-channels", json=body)

    def add_user(self, display_name="山田 花子", user_id=None, **extra) -> dict:
        body = {"display_name": display_name, **extra}
        if user_id:
            body["user_id"] = user_id
        return self._call("POST", "/_sandbox/users", json=body)

    # -- users acting -------------------------------------------------------------
    def send(self, channel_id: str, user_id: str, event: dict, files=None) -> dict:
        """Make a user act; returns {"event": ..., "delivery": {...}}."""
        path = f"/_sandbox/channels/{channel_id}/users/{user_id}/events"
        if files:
            return self._call("POST", path, data={"event": json.dumps(event)}, files=files, expect=(200,))
        return self._call("POST", path, json=event, expect=(200,))

    def follow(self, channel_id: str, user_id: str) -> dict:
        return self.send(channel_id, user_id, {"type": "follow"})

    def text(self, channel_id: str, user_id: str, text: str) -> dict:
        return self.send(channel_id, user_id, {"type": "message", "message": {"type": "text", "text": text}})

    def set_friendship(self, channel_id: str, user_id: str, status="friend") -> dict:
        """Make (or unmake) a friendship without sending a webhook."""
        return self._call("PUT", f"/_sandbox/channels/{channel_id}/users/{user_id}/friendship", json={"status": status})

    def deliver(self, channel_id: str, events=None, raw_body=None, signature=None) -> dict:
        body = {"events": events or []}
        if raw_body is not None:
            body["raw_body"] = raw_body
        if signature is not None:
            body["signature"] = signature
        return self._call("POST", f"/_sandbox/channels/{channel_id}/deliver", json=body)

    def transcode_done(self, channel_id: str, message_id: str, status="succeeded") -> dict:
        return self._call("POST", f"/_sandbox/channels/{channel_id}/messages/{message_id}/transcode-done",
                          json={"status": status})

    def expire_reply_token(self, token: str) -> dict:
        return self._call("POST", f"/_sandbox/reply-tokens/{token}/expire")

    # -- what the bot did ---------------------------------------------------------
    def sent(self, channel_id: str) -> list:
        return self._call("GET", f"/_sandbox/channels/{channel_id}/sent")

    def retry_keys(self, channel_id: str) -> dict:
        return self._call("GET", f"/_sandbox/channels/{channel_id}/retry-keys")

    def requests(self, channel_id: str) -> list:
        return self._call("GET", f"/_sandbox/channels/{channel_id}/requests")

    def chat(self, channel_id: str, user_id: str) -> list:
        return self._call("GET", f"/_sandbox/channels/{channel_id}/users/{user_id}/chat")

    # -- faults and reset -----------------------------------------------------------
    def fault(self, path: str, status=None, method=None, body=None, delay_seconds=None, times=1, headers=None) -> dict:
        spec = {"path": path, "status": status, "method": method, "body": body,
                "delay_seconds": delay_seconds, "times": times, "headers": headers}
        return self._call("POST", "/_sandbox/faults", json={k: v for k, v in spec.items() if v is not None})

    def clear_faults(self) -> dict:
        return self._call("DELETE", "/_sandbox/faults")

    def reset(self) -> dict:
        return self._call("POST", "/_sandbox/reset")


class WebhookReceiver:
    """Records webhook requests; answers ``status`` (200), or what ``on_webhook`` returns."""

    def __init__(self):
        self.received: list[dict] = []
        self.status = 200
        self.on_webhook = None
        self._lock = threading.Lock()
        self._server = ServerThread(self._wsgi).start()
        self.url = self._server.url + "/callback"

    @Request.application
    def _wsgi(self, request: Request):
        record = {"path": request.path, "headers": dict(request.headers), "body": request.get_data()}
        with self._lock:
            self.received.append(record)
        if self.on_webhook is not None:
            result = self.on_webhook(record)
            if isinstance(result, int):
                return Response("", status=result)
        return Response("OK" if self.status < 300 else "error", status=self.status)

    def clear(self):
        with self._lock:
            self.received.clear()
        self.status, self.on_webhook = 200, None

    def stop(self):
        self._server.stop()


@pytest.fixture(scope="session")
def line_spec_dir() -> Path:
    return line_spec_path()


@pytest.fixture(scope="session")
def _line_sandbox_server(line_spec_dir):
    app = create_app(spec_directory=line_spec_dir)
    server = ServerThread(app).start()
    yield server, app
    server.stop()


@pytest.fixture
def line_sandbox(_line_sandbox_server):
    """The LINE sandbox, emptied before the test."""
    server, app = _line_sandbox_server
    sandbox = LineSandbox(server.url, app)
    sandbox.reset()
    yield sandbox
    sandbox.close()


@pytest.fixture(scope="session")
def _webhook_receiver_server():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def webhook_receiver(_webhook_receiver_server):
    """A local webhook endpoint that records what the sandbox delivers."""
    _webhook_receiver_server.clear()
    yield _webhook_receiver_server
    _webhook_receiver_server.clear()
