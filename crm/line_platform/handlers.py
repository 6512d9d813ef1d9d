"""What each LINE event does: follow, unfollow, message, postback, unsend, edit.

The gateway stores what happened and announces it (crm/signals.py); the
features that answer (read state, 予約を確認する, automatic responses) listen.
"""
from datetime import timedelta
from urllib.parse import parse_qs

import sqlalchemy as sa
from flask import current_app

from crm import signals
from crm.conversations.models import Direction, LineFriend, LineMessage
from crm.database import utcnow
from crm.extensions import db
from crm.jobs import enqueue_after_commit
from crm.line_platform.media import schedule_download
from crm.line_platform.profiles import refresh_profile

MEDIA_TYPES = {"image", "video", "audio", "file"}


def friend_for(event):
    """The event's friend, created on first sight; its profile is refreshed when old."""
    friend = db.session.scalars(
        sa.select(LineFriend).where(
            LineFriend.shop_id == event.shop_id, LineFriend.line_user_id == event.source_user_id
        )
    ).first()
    if friend is None:
        friend = LineFriend(shop_id=event.shop_id, line_user_id=event.source_user_id, followed=True)
        db.session.add(friend)
        db.session.flush()
    max_age = timedelta(hours=current_app.config["LINE_PROFILE_MAX_AGE_HOURS"])
    if friend.profile_fetched_at is None or friend.profile_fetched_at < utcnow() - max_age:
        enqueue_after_commit(refresh_profile, friend.id)
    return friend


def _remember_reply_token(event, friend, payload):
    # Standby events belong to another channel's conversation: never answered.
    token = payload.get("replyToken")
    if token and event.mode == "active":
        if friend.reply_token_received_at is None or event.occurred_at >= friend.reply_token_received_at:
            friend.reply_token = token
            friend.reply_token_received_at = event.occurred_at


def _set_follow_state(event, friend, followed):
    if friend.status_changed_at is not None and event.occurred_at < friend.status_changed_at:
        return  # an older event delivered late
    friend.followed = followed
    friend.blocked_at = None if followed else event.occurred_at
    friend.status_changed_at = event.occurred_at


def on_follow(event, friend, payload):
    refollow = friend.status_changed_at is not None and not friend.followed
    _set_follow_state(event, friend, True)
    _remember_reply_token(event, friend, payload)
    if event.mode == "active":
        signals.friend_followed.send(friend, event=event, refollow=refollow)


def on_unfollow(event, friend, payload):
    _set_follow_state(event, friend, False)


def on_message(event, friend, payload):
    message = payload.get("message") or {}
    kind = message.get("type", "unknown")
    existing = db.session.scalars(
        sa.select(LineMessage).where(
            LineMessage.shop_id == event.shop_id, LineMessage.line_message_id == message.get("id")
        )
    ).first()
    if existing is not None:
        return
    details = {k: v for k, v in message.items() if k not in ("id", "type", "text")}
    row = LineMessage(
        shop_id=event.shop_id,
        friend_id=friend.id,
        direction=Direction.INCOMING,
        message_type=kind,
        text=message.get("text") if kind == "text" else None,
        payload=details,
        sent_at=event.occurred_at,
        line_message_id=message.get("id"),
        webhook_event_id=event.webhook_event_id,
    )
    if kind in MEDIA_TYPES:
        provider = (message.get("contentProvider") or {}).get("type", "line")
        row.media_status = "pending" if provider == "line" else "external"
    db.session.add(row)
    db.session.flush()
    if friend.last_message_at is None or event.occurred_at > friend.last_message_at:
        friend.last_message_at = event.occurred_at
    _remember_reply_token(event, friend, payload)
    if row.media_status == "pending":
        schedule_download(row.id)
    signals.message_received.send(friend, message=row, event=event)


def on_postback(event, friend, payload):
    _remember_reply_token(event, friend, payload)
    if event.mode == "active":  # standby: another channel answers
        data = parse_qs((payload.get("postback") or {}).get("data", ""))
        signals.postback_received.send(friend, data=data, event=event)


def on_unsend(event, friend, payload):
    message_id = (payload.get("unsend") or {}).get("messageId")
    row = db.session.scalars(
        sa.select(LineMessage).where(LineMessage.shop_id == event.shop_id, LineMessage.line_message_id == message_id)
    ).first()
    if row is not None:
        row.unsent_at = event.occurred_at


def on_message_edited(event, friend, payload):
    message = payload.get("message") or {}
    row = db.session.scalars(
        sa.select(LineMessage).where(
            LineMessage.shop_id == event.shop_id, LineMessage.line_message_id == message.get("id")
        )
    ).first()
    if row is None:
        on_message(event, friend, payload)
        return
    history = list((row.payload or {}).get("edits", []))
    history.append({"text": row.text, "replaced_at": event.occurred_at.isoformat()})
    row.payload = {**(row.payload or {}), "edits": history}
    row.text = message.get("text", row.text)
    row.edited_at = event.occurred_at


HANDLERS = {
    "follow": on_follow,
    "unfollow": on_unfollow,
    "message": on_message,
    "postback": on_postback,
    "unsend": on_unsend,
    "messageEdited": on_message_edited,
}


