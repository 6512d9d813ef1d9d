"""Digest fixtures: a notification channel on the LINE sandbox, an SMTP sink, unread conversations."""
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from crm.digests import line_notify
from crm.digests.connections import settings_for
from crm.extensions import db as _db
from tests.factories import make_customer, make_friend


@dataclass
class NotifyChannel:
    channel: dict
    sandbox: object
    menus: dict

    @property
    def id(self):
        return self.channel["channel_id"]

    def connect(self, staff, display_name=None):
        """A staff member's own LINE user, a friend of the notification bot, connected to their account."""
        user = self.sandbox.add_user(display_name=display_name or staff.name)
        self.sandbox.set_friendship(self.id, user["user_id"])
        settings = settings_for(staff)
        settings.line_user_id = user["user_id"]
        _db.session.flush()
        return user["user_id"]

    def pushes(self, user_id=None):
        return [s for s in self.sandbox.sent(self.id) if s["via"] == "push" and (user_id is None or s["to"] == user_id)]

    def menu_of(self, user_id):
        links = [r for r in self.sandbox.requests(self.id)
                 if r["method"] == "POST" and r["path"].startswith(f"/v2/bot/user/{user_id}/richmenu/")]
        return links[-1]["path"].rsplit("/", 1)[1] if links else None

    def link_requests(self):
        return [r for r in self.sandbox.requests(self.id)
                if r["method"] == "POST" and r["path"].startswith("/v2/bot/user/U")]


@pytest.fixture
def notify_channel(app, db, line_sandbox, monkeypatch):
    """The installation's notification channel, a sandbox channel with its two staff rich menus."""
    channel = line_sandbox.add_channel(bot_name="顧客台帳 通知", quota=100000)
    monkeypatch.setitem(app.config, "LINE_API_BASE_URL", line_sandbox.url)
    monkeypatch.setitem(app.config, "NOTIFY_LINE_CHANNEL_ID", channel["channel_id"])
    monkeypatch.setitem(app.config, "NOTIFY_LINE_CHANNEL_SECRET", channel["channel_secret"])
    monkeypatch.setitem(app.config, "NOTIFY_LINE_CHANNEL_ACCESS_TOKEN", channel["channel_access_token"])
    with app.test_request_context():
        menus = line_notify.setup("http://127.0.0.1/customers/", "http://127.0.0.1/notifications")
    _db.session.flush()
    return NotifyChannel(channel, line_sandbox, menus)


@pytest.fixture
def mail(app, smtp_sink, monkeypatch):
    smtp_sink.configure(app, monkeypatch)
    return smtp_sink


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def make_unread(shop, since, count=1, name=("山田", "花子"), linked=True, notify_later=None):
    """A conversation of the shop with `count` unread messages since `since`."""
    customer = make_customer(shop, family_name=name[0], given_name=name[1]) if linked else None
    friend = make_friend(shop, customer=customer, display_name=f"{name[1]}LINE")
    friend.unread_since = since
    friend.unread_count = count
    friend.notify_later_at = notify_later
    _db.session.flush()
    return friend
