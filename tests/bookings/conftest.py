"""A bookable shop connected to a Messaging API channel and a LINE Login channel of the LINE sandbox."""
from dataclasses import dataclass

import pytest

from crm.extensions import db as _db
from crm.line_platform.services import channel_for_shop, save_channel
from tests.bookings.helpers import bookable_shop


@dataclass
class LoginShop:
    shop: object
    owner: object
    service: object
    channel: object  # the app's LineChannel
    bot: dict  # the sandbox's Messaging API channel
    login: dict  # the sandbox's LINE Login channel, linked to the bot
    sandbox: object


@pytest.fixture
def login_shop(db, app, line_sandbox, shop, monkeypatch, tmp_path):
    """Open every day with a 60-minute カット; 「LINE連携する」 goes to the sandbox."""
    monkeypatch.setitem(app.config, "LINE_API_BASE_URL", line_sandbox.url)
    monkeypatch.setitem(app.config, "LINE_ACCESS_BASE_URL", line_sandbox.url)
    monkeypatch.setitem(app.config, "MEDIA_STORAGE_DIR", str(tmp_path / "media"))
    salon, owner = shop
    bot = line_sandbox.add_channel(bot_name="サロン・ド・テスト")
    login = line_sandbox.add_login_channel(bot_channel_id=bot["channel_id"])
    channel = channel_for_shop(salon.id)
    save_channel(channel, bot["channel_id"], bot["channel_secret"], bot["channel_access_token"])
    channel.login_channel_id, channel.login_channel_secret = login["channel_id"], login["channel_secret"]
    service = bookable_shop(salon)
    _db.session.flush()
    return LoginShop(salon, owner, service, channel, bot, login, line_sandbox)
