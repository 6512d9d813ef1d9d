"""あいさつメッセージ: on follow, by reply, once per event; a refollow after a block has its own text."""
import sqlalchemy as sa

from crm.autoreply import services
from crm.extensions import db as _db
from crm.line_platform import drain
from crm.line_platform.models import LineWebhookEvent
from tests.autoreply.helpers import auto_messages, delivered, fires, follow, friend_of, relay

BUBBLES = [
    {"kind": "text", "text": "{LINE名}さん、{店舗名}です！"},
    {"kind": "image", "url": "https://example.com/welcome.jpg"},
    {"kind": "link_card"},
]


def _greeting_on(line_shop, refollow_text=""):
    services.save_greeting(line_shop.shop.id, True, BUBBLES, refollow_text)
    _db.session.flush()


def test_a_new_friend_gets_the_greeting_by_reply_with_name_image_and_linking_card(client, auth, line_shop):
    _greeting_on(line_shop)
    user = line_shop.sandbox.add_user(display_name="はなこ")
    follow(client, line_shop, user)
    [(via, messages)] = delivered(line_shop)
    assert via == "reply"
    assert messages[0]["text"] == f"はなこさん、{line_shop.shop.name}です！"
    assert messages[1]["type"] == "image" and messages[1]["originalContentUrl"] == "https://example.com/welcome.jpg"
    assert messages[2]["type"] == "flex" and messages[2]["altText"] == "顧客情報の連携"
    [row] = auto_messages()
    assert row.origin == "auto" and row.via == "reply" and row.status.value == "sent"
    assert row.payload["origin_label"] == "あいさつメッセージ"
    auth.login(line_shop.owner)
    page = client.get(f"/line/friends/{friend_of(user).id}").get_data(as_text=True)
    assert "自動応答" in page and "あいさつメッセージ" in page and "はなこさん" in page


def test_no_greeting_until_the_owner_turns_it_on(client, line_shop):
    user = line_shop.sandbox.add_user(display_name="はなこ")
    follow(client, line_shop, user)
    assert delivered(line_shop) == [] and auto_messages() == []


def test_a_refollow_after_a_block_gets_its_own_text(client, line_shop):
    _greeting_on(line_shop, refollow_text="{LINE名}さん、おかえりなさい")
    user = line_shop.sandbox.add_user(display_name="ゆみ")
    follow(client, line_shop, user)
    relay(client, line_shop, user, {"type": "unfollow"})
    follow(client, line_shop, user)
    sent = delivered(line_shop)
    assert len(sent) == 2
    assert sent[1][1][0]["text"] == "ゆみさん、おかえりなさい"
    assert [m["type"] for m in sent[1][1]] == ["text", "image", "flex"]


def test_a_redelivered_follow_and_a_second_run_greet_once(client, line_shop):
    _greeting_on(line_shop)
    user = line_shop.sandbox.add_user(display_name="はなこ")
    built = follow(client, line_shop, user)
    redelivered = {**built, "deliveryContext": {"isRedelivery": True}}
    assert line_shop.post_events(client, [redelivered]).status_code == 200
    # The job runs again on the same stored event (a worker killed after its commit, say).
    event = _db.session.scalars(sa.select(LineWebhookEvent)).one()
    event.processed_at = None
    _db.session.flush()
    drain.process_event(event.id)
    _db.session.flush()
    assert len(delivered(line_shop)) == 1
    assert len(auto_messages()) == 1 and len(fires()) == 1


def test_more_than_five_bubbles_or_a_long_text_are_refused_when_saved(line_shop):
    import pytest

    from crm.autoreply.messages import AutoReplyError

    with pytest.raises(AutoReplyError) as error:
        services.save_greeting(line_shop.shop.id, True, [{"kind": "text", "text": "a"}] * 6, "")
    assert "5" in error.value.message
    with pytest.raises(AutoReplyError) as error:
        services.save_greeting(line_shop.shop.id, True, [{"kind": "text", "text": "あ" * 4990 + "{店舗名}"}], "")
    assert error.value.field == "bubble_1_text"
    with pytest.raises(AutoReplyError) as error:
        services.save_greeting(line_shop.shop.id, True, [{"kind": "image", "url": "http://x/a.png"}], "")
    assert error.value.field == "bubble_1_url"
