"""Answering the gateway's events: あいさつ on follow, 配信停止, キーワード応答 and 時間外 on messages.

Each answer is one row of autoreply_fires, UNIQUE (shop_id, webhook_event_id),
inserted with ON CONFLICT DO NOTHING inside the event's own transaction before
anything is queued: a redelivered event or a job run twice finds the row and
answers nothing.  The answer replies with the event's own token (free); a
token LINE refuses is recorded and the answer is not pushed unless the shop
allows it (crm/line_platform/sending.py EventReply).
"""
import time
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from crm import signals
from crm.autoreply.hours import status_at
from crm.autoreply.matching import CompiledRule, first_match, rules_for
from crm.autoreply.messages import fill, friend_values, greeting_messages, image_message, text_message
from crm.autoreply.models import AutoReplyFire, AutoReplySettings, FireKind, ReplyKind
from crm.autoreply.opt_out import answer_opt_out, is_opt_out
from crm.bookings.receivers import CHECK_BOOKINGS, answer_check_bookings
from crm.conversations.models import LineFriend, LineMessage, Origin
from crm.database import insert_ignoring
from crm.extensions import db
from crm.jobs import enqueue_after_commit
from crm.line_platform.profiles import refresh_profile
from crm.line_platform.sending import EventReply, queue_messages
from crm.linking.notify import link_card
from crm.linking.receivers import answer_unlinked_check_bookings, link_form_url
from crm.shops.models import Shop
from crm.shops.plans import line_tab_available

_AWAY_KINDS = (FireKind.AWAY, FireKind.HOLIDAY)


def _settings(shop_id):
    return db.session.scalars(sa.select(AutoReplySettings).where(AutoReplySettings.shop_id == shop_id)).first()


def _claim(friend, event, kind, rule_id=None, refollow=False):
    """Insert the event's one fire row; None when it exists already (redelivered, or a second run)."""
    token = (event.payload or {}).get("replyToken")
    stmt = insert_ignoring(AutoReplyFire.__table__, ["shop_id", "webhook_event_id"]).values(
        shop_id=friend.shop_id, friend_id=friend.id, webhook_event_id=event.webhook_event_id, kind=kind.value,
        rule_id=rule_id, fired_at=event.occurred_at, reply_token=token, refollow=refollow,
    ).returning(AutoReplyFire.id)
    return db.session.scalar(stmt)


def _reply(settings, token, at):
    return EventReply(token, at, push_when_late=settings.push_when_late)


def _origin(settings, token, at, rule_id, label):
    return {"origin": Origin.AUTO.value, "origin_id": rule_id, "origin_label": label,
            "reply": _reply(settings, token, at)}


@dataclass(frozen=True)
class _Snapshot:
    """A shop's settings and plan as one event needs them, kept a moment per process (SNAPSHOT_SECONDS)."""

    settings: Any
    shop: Any
    taken: float


SNAPSHOT_SECONDS = 2.0  # an edit reaches every worker within this; the rules themselves go by version
_snapshots: dict[tuple[str, int], _Snapshot] = {}


def _snapshot(shop_id):
    key = (str(db.engine.url), shop_id)
    cached = _snapshots.get(key)
    if cached is not None and time.monotonic() - cached.taken < SNAPSHOT_SECONDS and not current_app.testing:
        return cached
    settings = _settings(shop_id)
    shop = db.session.get(Shop, shop_id)
    snapshot = _snapshots[key] = _Snapshot(
        SimpleNamespace(**{c: getattr(settings, c) for c in _SETTINGS_COLUMNS}) if settings is not None else None,
        SimpleNamespace(id=shop.id, name=shop.name, timezone=shop.timezone, plan=shop.plan,
                        plan_until=shop.plan_until),
        time.monotonic())
    return snapshot


_SETTINGS_COLUMNS = ("shop_id", "greeting_enabled", "greeting_bubbles", "refollow_text", "away_enabled",
                     "hours_source", "away_text", "holiday_text", "away_window_hours", "push_when_late",
                     "rules_version")


def _answerable(friend, event):
    if event is None:
        return None, None  # a message announced without a LINE event (nothing to reply to)
    token = (event.payload or {}).get("replyToken")
    if event.mode != "active" or not token or not event.webhook_event_id:
        return None, None
    snapshot = _snapshot(friend.shop_id)
    if snapshot.settings is None:
        return None, None  # nothing set up: no greeting, no rules, no 時間外
    if not line_tab_available(snapshot.shop, event.occurred_at):
        return None, None
    return snapshot.settings, snapshot.shop


@signals.message_received.connect
def answer_message(friend: LineFriend, message: LineMessage, event: Any, **_kw: Any) -> LineMessage | None:
    """「配信停止」, else a keyword rule's answer, else (outside 応答時間) the 時間外 / 休業日 text once per window."""
    if message.message_type == "text" and is_opt_out(message.text):
        return answer_opt_out(friend, event)  # on every plan, set up or not: the customer's one answer
    settings, shop = _answerable(friend, event)
    if settings is None:
        return None
    token = event.payload["replyToken"]
    rule = None
    if message.message_type == "text" and message.text:
        rule = first_match(rules_for(shop.id, settings.rules_version), message.text)
    if rule is not None:
        if _claim(friend, event, FireKind.KEYWORD, rule.id) is None:
            return None
        return answer_rule(friend, shop, rule, **_origin(settings, token, event.occurred_at, rule.id, rule.name))
    if not settings.away_enabled:
        return None
    status = status_at(shop, settings.hours_source, event.occurred_at)
    if status.open:
        return None
    kind = FireKind.HOLIDAY if status.holiday and settings.holiday_text.strip() else FireKind.AWAY
    if _answered_recently(friend, settings, event.occurred_at):
        return None
    if _claim(friend, event, kind) is None:
        return None
    text = settings.holiday_text if kind == FireKind.HOLIDAY else settings.away_text
    label = _("休業日") if kind == FireKind.HOLIDAY else _("時間外")
    return queue_messages(friend, [text_message(fill(text, friend_values(friend, shop)))],
                          **_origin(settings, token, event.occurred_at, None, label))


def _answered_recently(friend, settings, at):
    """True when the friend had a 時間外 / 休業日 answer within the window (the friend's row is locked first)."""
    lock = sa.select(LineFriend.id).where(LineFriend.id == friend.id)
    if db.session.get_bind().dialect.name == "postgresql":
        # Two messages of one friend processed at once: the second waits here, then sees the first's row.
        db.session.execute(lock.with_for_update())
    since = at - timedelta(hours=settings.away_window_hours)
    return db.session.scalar(
        sa.select(AutoReplyFire.id).where(
            AutoReplyFire.friend_id == friend.id, AutoReplyFire.kind.in_(_AWAY_KINDS),
            AutoReplyFire.fired_at > since, AutoReplyFire.fired_at <= at,
        ).limit(1)
    ) is not None


def rule_messages(friend, shop, rule: CompiledRule) -> list[dict]:
    """A text or image rule's LINE messages (「予約確認」 builds its own)."""
    if rule.reply_kind == ReplyKind.IMAGE:
        return [image_message(rule.image_url)]
    return [text_message(fill(rule.reply_text, friend_values(friend, shop)))]


def answer_rule(friend, shop, rule: CompiledRule, **origin: Any) -> LineMessage | None:
    """Queue a rule's answer: its text or image, or 「予約確認」 as the rich menu's button answers it."""
    if rule.reply_kind == ReplyKind.BOOKINGS:
        data = {"action": CHECK_BOOKINGS}
        return answer_check_bookings(friend, data, **origin) or answer_unlinked_check_bookings(friend, data, **origin)
    return queue_messages(friend, rule_messages(friend, shop, rule), **origin)


@signals.friend_followed.connect
def greet(friend: LineFriend, event: Any, refollow: bool = False, **_kw: Any) -> None:
    """あいさつメッセージ: a fire row now, the message after the commit (the friend's name is fetched first)."""
    settings, _shop = _answerable(friend, event)
    if settings is None or not settings.greeting_enabled or not settings.greeting_bubbles:
        return
    fire_id = _claim(friend, event, FireKind.GREETING, refollow=refollow)
    if fire_id is not None:
        enqueue_after_commit(send_greeting, fire_id)


def greeting_for(friend, shop, settings, refollow=False, link_url=None) -> list[dict]:
    """The greeting's LINE messages for this friend (the linking card only while not linked)."""
    card = None
    if friend.customer_id is None:
        card = link_card(link_url or link_form_url(friend))
    return greeting_messages(settings.greeting_bubbles, settings.refollow_text, friend_values(friend, shop),
                             link_card=card, refollow=refollow)


def send_greeting(fire_id: int) -> LineMessage | None:
    """Job: write and queue the greeting of one follow, once (the fire row is locked and checked)."""
    fire = db.session.get(AutoReplyFire, fire_id)
    if fire is None or fire.message_id is not None:
        return None
    friend = db.session.get(LineFriend, fire.friend_id)
    if friend is not None and not friend.display_name and friend.profile_fetched_at is None:
        refresh_profile(friend.id)  # {LINE名}; commits before it calls LINE
    stmt = sa.select(AutoReplyFire).where(AutoReplyFire.id == fire_id).execution_options(populate_existing=True)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    fire = db.session.scalars(stmt).first()
    if fire is None or fire.message_id is not None or friend is None:
        return None
    settings, shop = _settings(fire.shop_id), db.session.get(Shop, fire.shop_id)
    messages = greeting_for(friend, shop, settings, refollow=fire.refollow)
    if not messages:
        return None
    row = queue_messages(friend, messages, **_origin(settings, fire.reply_token, fire.fired_at, None,
                                                     _("あいさつメッセージ")))
    fire.message_id = row.id
    return row
