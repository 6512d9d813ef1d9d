"""A shop connected to a channel of the LINE sandbox."""
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

import pytest

from crm.extensions import db as _db
from crm.line_platform.services import channel_for_shop, save_channel


@dataclass
class LineShop:
    shop: object
    owner: object
    channel: object  # the app's LineChannel
    sandbox_channel: dict
    sandbox: object

    @property
    def webhook_path(self):
        return f"/line/webhook/{self.channel.webhook_key}"

    def sign(self, body):
        secret = self.sandbox_channel["channel_secret"].encode()
        return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()

    def post_events(self, client, events, body=None, signature=None):
        """POST a signed webhook body to the app, as LINE would."""
        if body is None:
            body = json.dumps({"destination": "Uxxxxxxxx", "events": events}).encode()
        headers = {"Content-Type": "application/json", "X-Line-Signature": signature or self.sign(body)}
        return client.post(self.webhook_path, data=body, headers=headers)


@pytest.fixture
def line_shop(db, app, line_sandbox, shop, monkeypatch, tmp_path):
    """A premium shop whose channel is a sandbox channel; the app calls the sandbox."""
    monkeypatch.setitem(app.config, "LINE_API_BASE_URL", line_sandbox.url)
    monkeypatch.setitem(app.config, "MEDIA_STORAGE_DIR", str(tmp_path / "media"))
    sandbox_channel = line_sandbox.add_channel(bot_name="サロン・ド・テスト")
    channel = channel_for_shop(shop[0].id)
    save_channel(channel, sandbox_channel["channel_id"], sandbox_channel["channel_secret"],
                 sandbox_channel["channel_access_token"])
    _db.session.flush()
    return LineShop(shop[0], shop[1], channel, sandbox_channel, line_sandbox)
