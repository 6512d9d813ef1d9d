"""キーワード応答: NFKC + casefold matching, priority, on/off, text/image/予約確認, cached per version."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from crm.autoreply import matching, services
from crm.autoreply.messages import AutoReplyError
from crm.autoreply.models import MatchType, ReplyKind
from crm.extensions import db as _db
from tests.autoreply.helpers import auto_messages, delivered, fires, friend_of, say
from tests.factories import make_customer


def rule(line_shop, keyword, match=MatchType.EXACT, kind=ReplyKind.TEXT, text="answer", priority=0, enabled=True,
         name=None, image_url=""):
    return services.save_rule(None, line_shop.shop.id, name=name or keyword, keyword=keyword, match_type=match,
                              priority=priority, enabled=enabled, reply_kind=kind, reply_text=text,
                              image_url=image_url)


def texts(line_shop):
    return [m.get("text") or m["type"] for _via, ms in delivered(line_shop) for m in ms]


def test_normalize_matches_full_and_half_width_and_case():
    assert matching.normalize("ＡＢＣ　１２３") == matching.normalize("abc 123") == "abc 123"
    assert matching.normalize("ｶｯﾄ") == "カット"


def test_exact_contains_prefix_and_priority(client, line_shop):
    rule(line_shop, "営業時間", text="10時〜19時です")
    rule(line_shop, "予約", MatchType.CONTAINS, text="予約はこちら", priority=1)
    rule(line_shop, "駐車場", MatchType.PREFIX, text="駐車場はありません")
    rule(line_shop, "予約変更", MatchType.CONTAINS, text="変更はお電話で", priority=5)
    rule(line_shop, "ｶｯﾄ", MatchType.EXACT, text="カットは4400円")
    rule(line_shop, "off", MatchType.CONTAINS, text="never", enabled=False)
    user = line_shop.sandbox.add_user()
    for text in ["営業時間", "営業時間は？", "明日予約したい", "予約変更したい", "駐車場ありますか", "カット", "off"]:
        say(client, line_shop, user, text)
    assert texts(line_shop) == ["10時〜19時です", "予約はこちら", "変更はお電話で", "駐車場はありません",
                                "カットは4400円"]
    assert all(via == "reply" for via, _ms in delivered(line_shop))
    labels = [m.payload["origin_label"] for m in auto_messages()]
    assert labels == ["営業時間", "予約", "予約変更", "駐車場", "ｶｯﾄ"]
    assert {m.origin_id for m in auto_messages()} == {f.rule_id for f in fires()}


def test_an_image_rule_and_placeholders(client, line_shop):
    rule(line_shop, "地図", kind=ReplyKind.IMAGE, image_url="https://example.com/map.png")
    rule(line_shop, "こんにちは", text="{LINE名}さん、{店舗名}です")
    user = line_shop.sandbox.add_user(display_name="はなこ")
    line_shop.sandbox.set_friendship(line_shop.sandbox_channel["channel_id"], user["user_id"], "friend")
    say(client, line_shop, user, "地図")
    say(client, line_shop, user, "こんにちは")
    assert texts(line_shop) == ["image", f"はなこさん、{line_shop.shop.name}です"]


def test_bookings_action_answers_a_linked_customer_with_upcoming_bookings(client, line_shop):
    from tests.bookings.helpers import book, bookable_shop

    rule(line_shop, "予約確認", kind=ReplyKind.BOOKINGS)
    user = line_shop.sandbox.add_user()
    say(client, line_shop, user, "こんにちは")
    customer = make_customer(line_shop.shop, family_name="伊藤", given_name="さくら")
    friend = friend_of(user)
    friend.customer_id = customer.id
    service = bookable_shop(line_shop.shop)
    booking = book(line_shop.shop, service).booking
    booking.customer_id = customer.id
    _db.session.flush()
    say(client, line_shop, user, "予約確認")
    [answer] = texts(line_shop)
    assert "伊藤 さくら 様のご予約（1件）" in answer
    unlinked = line_shop.sandbox.add_user()
    say(client, line_shop, unlinked, "予約確認")
    assert delivered(line_shop)[-1][1][0]["type"] == "flex"  # the linking card
    assert [m.origin for m in auto_messages()] == ["auto", "auto"]


def test_a_redelivered_message_is_answered_once(client, line_shop):
    rule(line_shop, "hello", text="hi!")
    user = line_shop.sandbox.add_user()
    built = say(client, line_shop, user, "hello")
    line_shop.post_events(client, [{**built, "deliveryContext": {"isRedelivery": True}}])
    # The same event under another webhook delivery, and the handler's signal sent twice for it.
    from crm import signals
    from crm.conversations.models import LineMessage
    from crm.line_platform.models import LineWebhookEvent

    event = _db.session.scalars(__import__("sqlalchemy").select(LineWebhookEvent)).one()
    message = _db.session.scalars(__import__("sqlalchemy").select(LineMessage).where(
        LineMessage.direction == "in")).one()
    signals.message_received.send(friend_of(user), message=message, event=event)
    _db.session.flush()
    assert texts(line_shop) == ["hi!"] and len(auto_messages()) == 1


def test_rules_are_read_once_per_version(line_shop, count_queries):
    for n in range(200):
        rule(line_shop, f"キーワード{n}", MatchType.CONTAINS, text=f"答え{n}")
    version = services.settings_for(line_shop.shop.id).rules_version
    matching.rules_for(line_shop.shop.id, version)
    with count_queries() as queries:
        compiled = matching.rules_for(line_shop.shop.id, version)
        assert matching.first_match(compiled, "ｷｰﾜｰﾄﾞ199です").name == "キーワード1"  # the oldest of equal priority
    assert queries == []
    first = services.rules(line_shop.shop.id)[0]
    services.set_rule_enabled(first, False)  # an edit bumps the version: the next event reads the rules again
    fresh = services.settings_for(line_shop.shop.id).rules_version
    assert fresh != version and len(matching.rules_for(line_shop.shop.id, fresh)) == 199


def test_match_of_200_rules_is_fast(line_shop):
    import time

    for n in range(200):
        rule(line_shop, f"ことば{n}", MatchType.CONTAINS, text="x")
    compiled = matching.rules_for(line_shop.shop.id, services.settings_for(line_shop.shop.id).rules_version)
    def p99():
        timings = []
        for _ in range(300):
            start = time.perf_counter()
            matching.first_match(compiled, "どれにも一致しない、少し長めのお客様のメッセージです。" * 3)
            timings.append(time.perf_counter() - start)
        return sorted(timings)[int(len(timings) * 0.99)]

    # The best of three runs: this machine's other processes take the CPU now and then.
    assert min(p99() for _ in range(3)) < 0.002


def test_bad_rules_are_refused_when_saved(line_shop):
    with pytest.raises(AutoReplyError) as error:
        rule(line_shop, "long", text="あ" * 5001)
    assert error.value.field == "reply_text"
    with pytest.raises(AutoReplyError) as error:
        rule(line_shop, "　", text="x", name="空白")
    assert error.value.field == "keyword"
    with pytest.raises(AutoReplyError) as error:
        rule(line_shop, "img", kind=ReplyKind.IMAGE, image_url="ftp://x")
    assert error.value.field == "image_url"


def test_at_most_200_rules(line_shop, monkeypatch):
    monkeypatch.setattr("crm.autoreply.services.MAX_RULES", 3)
    for n in range(3):
        rule(line_shop, f"k{n}")
    with pytest.raises(AutoReplyError):
        rule(line_shop, "k4")


def test_a_keyword_wins_over_the_away_text(client, line_shop, time_machine):
    from crm.autoreply.models import HoursSource
    from tests.bookings.helpers import open_every_day

    open_every_day(line_shop.shop)
    services.save_away(line_shop.shop.id, True, HoursSource.BOOKING, "時間外です", "", 12, False)
    rule(line_shop, "営業時間", text="10時〜19時です")
    time_machine.move_to(datetime(2026, 11, 24, 23, 0, tzinfo=ZoneInfo("Asia/Tokyo")), tick=False)
    user = line_shop.sandbox.add_user()
    say(client, line_shop, user, "営業時間")
    say(client, line_shop, user, "もしもし")
    assert texts(line_shop) == ["10時〜19時です", "時間外です"]
