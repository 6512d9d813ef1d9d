"""Each automatic response as a LINE user's phone gets it: the sandbox sends the webhook to the app
(served on a local port, as LINE calls it), and the test reads the user's chat in the sandbox.

あいさつ on follow, 時間外 at a frozen time, a keyword's answer (each by the event's own reply token),
and the booking reminder at a frozen time (a push).
"""
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from crm.autoreply import services
from crm.autoreply.models import HoursSource, MatchType, ReplyKind
from crm.extensions import db as _db
from crm.jobs import run_job
from crm.line_tab.scheduling import tick
from tests.autoreply.helpers import friend_of
from tests.bookings.helpers import book, bookable_shop, open_every_day
from tests.factories import make_customer
from tests.servers import ServerThread

TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass
class Phone:
    """A sandbox LINE user's side of the shop's chat."""

    sandbox: object
    channel_id: str

    def new_user(self, display_name):
        return self.sandbox.add_user(display_name=display_name)

    def act(self, user, event):
        delivery = self.sandbox.send(self.channel_id, user["user_id"], event)["delivery"]
        assert delivery["status_code"] == 200, delivery  # the app took the webhook

    def follow(self, user):
        self.act(user, {"type": "follow"})

    def block(self, user):
        self.act(user, {"type": "unfollow"})

    def say(self, user, text):
        self.act(user, {"type": "message", "message": {"type": "text", "text": text}})

    def received(self, user):
        """[(via, [messages])] the user's phone shows from the shop, in order."""
        return [(entry["via"], entry["messages"])
                for entry in self.sandbox.chat(self.channel_id, user["user_id"]) if entry["from"] == "bot"]

    def texts(self, user):
        return [m["text"] for _via, messages in self.received(user) for m in messages if m["type"] == "text"]


@pytest.fixture
def phone(app, line_shop):
    """The app served on a local port; the shop's sandbox channel delivers its webhooks there."""
    with ServerThread(app, name="autoreply-phone-app", quiet=True) as server:
        channel = line_shop.sandbox_channel
        line_shop.sandbox.add_channel(
            channel_id=channel["channel_id"], channel_secret=channel["channel_secret"],
            channel_access_token=channel["channel_access_token"], bot_name=channel["bot_name"],
            webhook_url=server.url + line_shop.webhook_path)
        yield Phone(line_shop.sandbox, channel["channel_id"])


def at(time_machine, y, m, d, hh, mm=0):
    time_machine.move_to(datetime(y, m, d, hh, mm, tzinfo=TOKYO), tick=False)


def test_following_from_the_phone_gets_the_greeting_and_a_refollow_its_own_text(phone, line_shop):
    services.save_greeting(line_shop.shop.id, True, [
        {"kind": "text", "text": "{LINE名}さん、{店舗名}です！"},
        {"kind": "image", "url": "https://example.com/welcome.jpg"},
        {"kind": "link_card"},
    ], "{LINE名}さん、おかえりなさい")
    _db.session.flush()
    user = phone.new_user("はなこ")
    phone.follow(user)
    [(via, messages)] = phone.received(user)
    assert via == "reply"  # with the follow's own token: free
    assert messages[0]["type"] == "text" and messages[0]["text"] == f"はなこさん、{line_shop.shop.name}です！"
    assert messages[1]["type"] == "image" and messages[1]["originalContentUrl"] == "https://example.com/welcome.jpg"
    assert messages[2]["type"] == "flex" and messages[2]["altText"] == "顧客情報の連携"
    button = messages[2]["contents"]["footer"]["contents"][0]["action"]
    assert button["label"] == "顧客情報を連携する" and "/link/" in button["uri"]

    phone.block(user)
    phone.follow(user)  # back after a block: the refollow text replaces the text bubble
    assert len(phone.received(user)) == 2
    via, messages = phone.received(user)[1]
    assert via == "reply" and [m["type"] for m in messages] == ["text", "image", "flex"]
    assert messages[0]["text"] == "はなこさん、おかえりなさい"


def test_at_23h_the_phone_gets_the_away_text_once_per_window(phone, line_shop, time_machine):
    open_every_day(line_shop.shop)  # the booking page's hours, 10:00-19:00
    services.save_away(line_shop.shop.id, True, HoursSource.BOOKING, "{LINE名}様、ただいま営業時間外です。", "", 12,
                       False)
    _db.session.flush()
    user = phone.new_user("ゆみ")
    at(time_machine, 2026, 11, 24, 22, 58)
    phone.follow(user)  # no greeting set up: nothing
    at(time_machine, 2026, 11, 24, 23, 0)
    for text in ["すみません", "明日の予約", "変更できますか"]:
        phone.say(user, text)
    assert phone.texts(user) == ["ゆみ様、ただいま営業時間外です。"]  # one answer for the three
    assert [via for via, _messages in phone.received(user)] == ["reply"]
    assert friend_of(user).unread_count == 3  # the messages still wait for the staff

    at(time_machine, 2026, 11, 25, 11, 0)  # open: nothing answers
    phone.say(user, "おはようございます")
    at(time_machine, 2026, 11, 25, 9, 0)  # closed again, but 10 hours after the answer: inside the window
    phone.say(user, "まだですか")
    assert len(phone.received(user)) == 1
    at(time_machine, 2026, 11, 25, 21, 30)  # closed, 22.5 hours after: answered again
    phone.say(user, "もしもし")
    assert phone.texts(user) == ["ゆみ様、ただいま営業時間外です。"] * 2
    assert [via for via, _messages in phone.received(user)] == ["reply", "reply"]


def test_a_keyword_gets_its_answer_on_the_phone(phone, line_shop):
    services.save_rule(None, line_shop.shop.id, name="営業時間", keyword="営業時間", match_type=MatchType.CONTAINS,
                       priority=0, enabled=True, reply_kind=ReplyKind.TEXT,
                       reply_text="{LINE名}様、{店舗名}は10時〜19時です。", image_url="")
    services.save_rule(None, line_shop.shop.id, name="地図", keyword="地図", match_type=MatchType.PREFIX,
                       priority=0, enabled=True, reply_kind=ReplyKind.IMAGE, reply_text="",
                       image_url="https://example.com/map.png")
    _db.session.flush()
    user = phone.new_user("さくら")
    phone.follow(user)
    phone.say(user, "ＳＡＬＯＮの営業時間は？")  # full width: NFKC matches it
    phone.say(user, "お店の地図")  # 前方一致 only: no answer
    phone.say(user, "地図をください")
    received = phone.received(user)
    assert [via for via, _messages in received] == ["reply", "reply"]
    assert received[0][1][0]["text"] == f"さくら様、{line_shop.shop.name}は10時〜19時です。"
    assert received[1][1][0]["type"] == "image"
    assert received[1][1][0]["originalContentUrl"] == "https://example.com/map.png"


def test_the_reminder_reaches_the_phone_at_18h_the_day_before(phone, line_shop, time_machine):
    at(time_machine, 2026, 11, 20, 9, 0)
    user = phone.new_user("いとう")
    phone.follow(user)
    customer = make_customer(line_shop.shop, family_name="伊藤", given_name="さくら")
    friend = friend_of(user)
    friend.customer_id = customer.id  # linked (the linking form's result)
    booking = book(line_shop.shop, bookable_shop(line_shop.shop), datetime(2026, 11, 25, 14, 0, tzinfo=TOKYO)).booking
    booking.customer_id = customer.id
    _db.session.flush()

    at(time_machine, 2026, 11, 24, 17, 59)
    run_job(tick)
    assert phone.received(user) == []
    at(time_machine, 2026, 11, 24, 18, 0)
    run_job(tick)
    at(time_machine, 2026, 11, 24, 18, 1)
    run_job(tick)  # the next minute's tick: nothing more
    [(via, [message])] = phone.received(user)
    assert via == "push"  # a reminder answers no event: it is pushed
    assert message["text"].startswith(f"{booking.full_name} 様\n明日のご予約のお知らせです。")
    assert "2026年11月25日(水) 14:00〜15:00" in message["text"]
    assert f"/book/{line_shop.shop.booking_key}" in message["text"]
