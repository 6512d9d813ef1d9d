"""set-plan, held (保留) scheduled messages across a downgrade and an upgrade, ご利用中プラン, webhooks on basic."""
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from crm.conversations.models import Direction, LineMessage, SendStatus
from crm.database import utcnow
from crm.extensions import db as _db
from crm.line_platform.models import LineWebhookEvent
from crm.line_platform.sending import deliver
from crm.line_tab.held import hold_lapsed, release_held
from crm.shops.models import Plan
from crm.shops.plans import line_tab_available
from tests.factories import make_customer, make_friend, make_shop, make_staff


def _invoke(app, *args):
    return app.test_cli_runner().invoke(args=["crm", *map(str, args)])


def _scheduled(shop, friend, at, text="明日のご予約の確認です"):
    message = LineMessage(shop_id=shop.id, friend_id=friend.id, direction=Direction.OUTGOING, message_type="text",
                          text=text, payload={"messages": [{"type": "text", "text": text}]},
                          status=SendStatus.SCHEDULED, scheduled_at=at, retry_key=str(__import__("uuid").uuid4()))
    _db.session.add(message)
    _db.session.flush()
    return message


def _statuses(shop):
    _db.session.expire_all()
    return sorted((m.text, m.status.value) for m in _db.session.scalars(
        sa.select(LineMessage).where(LineMessage.shop_id == shop.id)))


def test_set_plan_command(app, db):
    shop, _owner = make_shop(plan=Plan.BASIC)
    result = _invoke(app, "set-plan", shop.id, "trial", "--until", "2030-01-31")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["plan"] == "trial" and data["line_tab"] is True
    assert data["plan_until"] == "2030-01-31T15:00:00+00:00"  # the end of Jan 31 in Tokyo
    assert json.loads(_invoke(app, "set-plan", shop.id, "premium").output)["plan_until"] is None
    assert _invoke(app, "set-plan", shop.id, "trial").exit_code != 0  # a trial needs --until
    assert _invoke(app, "set-plan", shop.id, "basic", "--until", "2030-01-01").exit_code != 0
    assert _invoke(app, "set-plan", shop.id, "gold").exit_code != 0
    assert _invoke(app, "set-plan", 999999, "basic").exit_code != 0
    assert _invoke(app, "set-plan", shop.id, "trial", "--until", "tomorrow").exit_code != 0


def test_downgrade_holds_scheduled_messages_and_upgrade_loses_none(app, db, line_shop, client, auth):
    shop, owner = line_shop.shop, line_shop.owner
    user = line_shop.sandbox.add_user(display_name="客")
    line_shop.sandbox.set_friendship(line_shop.sandbox_channel["channel_id"], user["user_id"])
    friend = make_friend(shop, customer=make_customer(shop), line_user_id=user["user_id"])
    soon = _scheduled(shop, friend, utcnow() + timedelta(minutes=30), text="a")
    _scheduled(shop, friend, utcnow() + timedelta(days=2), text="b")  # held too, and kept
    unwanted = _scheduled(shop, friend, utcnow() + timedelta(days=3), text="c")

    result = _invoke(app, "set-plan", shop.id, "basic")
    assert json.loads(result.output)["held"] == 3
    assert _statuses(shop) == [("a", "held"), ("b", "held"), ("c", "held")]
    # Never sent while basic: a delivery job for a held message does nothing.
    assert deliver(soon.id).status == SendStatus.HELD
    assert line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"]) == []

    # The plan page shows them as 保留; releasing is refused while basic.
    auth.login(owner)
    html = client.get("/settings/plan").get_data(as_text=True)
    assert "ベーシックプラン" in html and html.count(">保留<") == 3 and "送信予約を再開" not in html
    client.post_form("/settings/plan/held", {"action": "release"})
    assert _statuses(shop) == [("a", "held"), ("b", "held"), ("c", "held")]

    # The upgrade leaves them held; the owner releases two, cancels one.
    _invoke(app, "set-plan", shop.id, "premium")
    assert _statuses(shop) == [("a", "held"), ("b", "held"), ("c", "held")]
    soon.scheduled_at = utcnow() - timedelta(minutes=5)  # its time passed while held: sent at once
    _db.session.flush()
    assert "送信予約を再開" in client.get("/settings/plan").get_data(as_text=True)
    response = client.post_form("/settings/plan/held", {"action": "cancel", "message": str(unwanted.id)})
    assert response.status_code == 302
    response = client.post_form("/settings/plan/held", {"action": "release"})
    assert response.status_code == 302
    assert _statuses(shop) == [("a", "sent"), ("b", "scheduled"), ("c", "cancelled")]
    [sent] = line_shop.sandbox.sent(line_shop.sandbox_channel["channel_id"])
    assert sent["messages"][0]["text"] == "a"


def test_a_trial_that_ends_holds_its_scheduled_messages_at_the_next_tick(app, db):
    from crm.digests.services import run_digest_tick

    shop, _owner = make_shop(plan=Plan.TRIAL)
    shop.plan_until = utcnow() + timedelta(hours=1)
    friend = make_friend(shop)
    _scheduled(shop, friend, utcnow() + timedelta(days=1))
    assert hold_lapsed(utcnow()) == 0
    assert run_digest_tick(utcnow() + timedelta(hours=2)).held == 1
    assert _statuses(shop)[0][1] == "held"
    with pytest.raises(ValueError):
        release_held(shop, now=utcnow() + timedelta(hours=2))


def test_plan_page_is_for_the_owner(app, client, auth, db):
    shop, owner = make_shop(plan=Plan.TRIAL)
    shop.plan_until = utcnow() + timedelta(days=10)
    staff = make_staff(shop)
    auth.login(staff)
    assert client.get("/settings/plan").status_code == 302
    auth.logout()
    auth.login(owner)
    html = client.get("/settings/plan").get_data(as_text=True)
    assert "プレミアムプラン（お試し）" in html and "まで" in html
    assert "プレミアムプランでできること" in html and "アップグレードの方法" in html


def test_webhooks_keep_storing_messages_for_a_basic_shop(app, db, client, line_shop):
    line_shop.shop.plan = Plan.BASIC
    _db.session.flush()
    assert not line_tab_available(line_shop.shop)
    event = {"type": "message", "mode": "active", "timestamp": 1740000000000, "webhookEventId": "01BASIC0000000000000000001",
             "replyToken": "r1", "source": {"type": "user", "userId": "U" + "b" * 32},
             "deliveryContext": {"isRedelivery": False}, "message": {"id": "777", "type": "text", "text": "予約したいです"}}
    assert line_shop.post_events(client, [event]).status_code == 200
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(LineWebhookEvent)) == 1
    texts = _db.session.scalars(sa.select(LineMessage.text).where(LineMessage.shop_id == line_shop.shop.id)).all()
    assert texts == ["予約したいです"]  # stored now, shown after an upgrade
