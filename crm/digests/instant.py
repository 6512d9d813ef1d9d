"""新着の通知: each new message (or each new conversation) on the staff member's LINE, like the LINE OA Manager app.

Each staff member chooses none (the daily digests only), new conversations, or every
message, with quiet hours.  Delivery is the staff LINE notification channel
(crm/digests/line_notify.py), batched: one InstantNotice row per staff member and
minute (UNIQUE), so at most one push a minute.  The first message after a quiet
minute is pushed right after its commit; those that follow in the same minute wait
in the next minute's row, which the tick sends.  A push carries the row's retry key:
a retried push is delivered once.  後で通知's reminders come here too (reminder_due).
"""
import logging
import uuid
from datetime import datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from crm import jobs, signals
from crm.conversations.models import Direction, LineFriend, LineMessage
from crm.customers.models import Customer
from crm.database import insert_ignoring, utcnow
from crm.digests import line_notify
from crm.digests.models import InstantNotice, Notification, NotificationSettings
from crm.digests.render import _link
from crm.extensions import db
from crm.shops.models import Shop
from crm.shops.plans import line_tab_available
from crm.staff.models import Role, Staff

log = logging.getLogger(__name__)

NONE, NEW_CONVERSATION, EVERY_MESSAGE = "none", "new_conversation", "every_message"
MODES = (NONE, NEW_CONVERSATION, EVERY_MESSAGE)
PREVIEW = 3  # conversations named in one push


def _minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def _parse_clock(value: str | None) -> time | None:
    try:
        return time.fromisoformat(value) if value else None
    except ValueError:
        return None


def in_quiet_hours(settings: NotificationSettings, tz_name: str, now: datetime) -> bool:
    """True inside the staff member's quiet hours (shop time; may span midnight)."""
    start, end = _parse_clock(settings.quiet_from), _parse_clock(settings.quiet_until)
    if start is None or end is None or start == end:
        return False
    local = now.astimezone(ZoneInfo(tz_name)).time()
    return start <= local < end if start < end else (local >= start or local < end)


def _starts_conversation(friend: LineFriend, message: LineMessage) -> bool:
    """No other unread message from the friend before this one: a new conversation."""
    earlier = sa.select(LineMessage.id).where(
        LineMessage.friend_id == friend.id, LineMessage.direction == Direction.INCOMING, LineMessage.id < message.id)
    if friend.last_read_at is not None:
        earlier = earlier.where(LineMessage.sent_at > friend.last_read_at)
    return db.session.scalar(earlier.limit(1)) is None


def recipients(friend: LineFriend, message: LineMessage, now: datetime) -> list[int]:
    """Staff ids to notify of this message now, by their choice and quiet hours."""
    if not line_notify.configured():
        return []
    shop = db.session.get(Shop, friend.shop_id)
    if shop is None or not line_tab_available(shop, now):
        return []
    rows = db.session.scalars(
        sa.select(NotificationSettings).join(Staff, Staff.id == NotificationSettings.staff_id)
        .where(NotificationSettings.shop_id == friend.shop_id, NotificationSettings.instant_mode != NONE,
               NotificationSettings.line_user_id.is_not(None), Staff.active.is_(True))
    ).all()
    starts = None
    chosen = []
    for settings in rows:
        if in_quiet_hours(settings, shop.timezone, now):
            continue
        if settings.instant_mode == NEW_CONVERSATION:
            starts = _starts_conversation(friend, message) if starts is None else starts
            if not starts:
                continue
        chosen.append(settings.staff_id)
    return chosen


def _add(staff_id: int, shop_id: int, slot: datetime, message_id: int) -> bool:
    """Count the message in the staff member's pending notice of `slot`; False when that notice already went."""
    db.session.execute(insert_ignoring(InstantNotice, ["staff_id", "slot"]).values(
        shop_id=shop_id, staff_id=staff_id, slot=slot, status="pending", first_message_id=message_id,
        last_message_id=message_id, messages=0, line_retry_key=str(uuid.uuid4()), created_at=utcnow()))
    return cast(sa.CursorResult[Any], db.session.execute(
        sa.update(InstantNotice)
        .where(InstantNotice.staff_id == staff_id, InstantNotice.slot == slot, InstantNotice.status == "pending")
        .values(messages=InstantNotice.messages + 1, last_message_id=message_id)
        .execution_options(synchronize_session=False)
    )).rowcount == 1


def queue_for(friend: LineFriend, message: LineMessage, now: datetime | None = None) -> list[int]:
    """Put the message in each recipient's notice (this minute's, or the next one's); push after the commit."""
    now = now or utcnow()
    staff_ids = recipients(friend, message, now)
    slot = _minute(now)
    for staff_id in staff_ids:
        if not _add(staff_id, friend.shop_id, slot, message.id):
            _add(staff_id, friend.shop_id, slot + timedelta(minutes=1), message.id)  # sent by the tick
    if staff_ids:
        jobs.enqueue_after_commit(send_due_job)
    return staff_ids


def _text(notice: InstantNotice, locale: str) -> str:
    rows = db.session.execute(
        sa.select(LineMessage, LineFriend, Customer)
        .join(LineFriend, LineFriend.id == LineMessage.friend_id)
        .outerjoin(Customer, Customer.id == LineFriend.customer_id)
        .where(LineMessage.shop_id == notice.shop_id, LineMessage.direction == Direction.INCOMING,
               LineMessage.id.between(notice.first_message_id, notice.last_message_id))
        .order_by(LineMessage.id.desc()).limit(50)
    ).all()
    with force_locale(locale):
        lines = [_("LINEの新着メッセージ %(n)d件", n=notice.messages)]
        seen: set[int] = set()
        for message, friend, customer in rows:
            if friend.id in seen or len(seen) >= PREVIEW:
                continue
            seen.add(friend.id)
            name = _("%(name)s 様", name=customer.full_name) if customer else friend.display_name
            what = message.text if message.message_type == "text" and message.text else _("（テキスト以外）")
            lines.append(f"{name}: {what[:60]}")
        url = _link("line_tab.inbox")
        if url:
            lines.append(url)
        return "\n".join(lines)


def send_due(now: datetime | None = None) -> int:
    """Push every pending notice whose minute came, each once (claimed by a guarded UPDATE)."""
    now = now or utcnow()
    if not line_notify.configured():
        return 0
    ids = db.session.scalars(
        sa.select(InstantNotice.id).where(InstantNotice.status == "pending", InstantNotice.slot <= now)
        .order_by(InstantNotice.slot).limit(200)
    ).all()
    sent = 0
    for notice_id in ids:
        claimed = cast(sa.CursorResult[Any], db.session.execute(
            sa.update(InstantNotice).where(InstantNotice.id == notice_id, InstantNotice.status == "pending")
            .values(status="sending").execution_options(synchronize_session=False)
        )).rowcount
        notice = db.session.get(InstantNotice, notice_id, populate_existing=True) if claimed else None
        if notice is None:
            continue
        settings = db.session.get(NotificationSettings, notice.staff_id)
        staff = db.session.get(Staff, notice.staff_id)
        if settings is None or settings.line_user_id is None or staff is None:
            notice.status, notice.error = "failed", "not connected"
            continue
        try:
            with line_notify.apis() as api:
                line_notify.push(api, settings.line_user_id,
                                 [{"type": "text", "text": _text(notice, staff.locale or "ja")}], notice.line_retry_key)
            notice.status, notice.sent_at = "sent", utcnow()
            sent += 1
        except line_notify.PushFailed as exc:
            # A transient failure is tried again by the next tick with the same retry key.
            notice.status, notice.error = ("failed" if exc.permanent else "pending"), exc.reason
    db.session.flush()
    return sent


def send_due_job() -> int:
    """Job: push the due 新着の通知 (after the commit that queued them, and from the tick)."""
    return send_due()


@signals.message_received.connect
def _on_message(friend: LineFriend, message: LineMessage, **_kw: object) -> None:
    queue_for(friend, message)


@signals.reminder_due.connect
def _on_reminder(friend: LineFriend, staff_id: int | None = None, remind_at: datetime | None = None,
                 **_kw: object) -> None:
    """後で通知's time came: a notification for whoever set it aside (the owners when unknown)."""
    staff_ids = [staff_id] if staff_id else db.session.scalars(
        sa.select(Staff.id).where(Staff.shop_id == friend.shop_id, Staff.role == Role.OWNER, Staff.active.is_(True))
    ).all()
    customer = db.session.get(Customer, friend.customer_id) if friend.customer_id else None
    entry = {"friend_id": friend.id, "customer_id": customer.id if customer else None,
             "name": customer.full_name if customer else None, "line_name": friend.display_name,
             "unread_count": friend.unread_count, "remind_at": remind_at.isoformat() if remind_at else None}
    for sid in staff_ids:
        db.session.add(Notification(shop_id=friend.shop_id, staff_id=sid, kind="reminder", data={"entry": entry}))
    db.session.flush()


def update_preferences(settings: NotificationSettings, mode: str | None, quiet_from: str | None,
                       quiet_until: str | None) -> str | None:
    """Change the staff member's 新着の通知 choice and quiet hours; returns the error to show, or None."""
    if mode not in MODES:
        return _("通知の種類を選んでください。")
    quiet_from, quiet_until = (quiet_from or "").strip(), (quiet_until or "").strip()
    if bool(quiet_from) != bool(quiet_until):
        return _("通知しない時間帯は、開始と終了の両方を入力してください。")
    if quiet_from and (_parse_clock(quiet_from) is None or _parse_clock(quiet_until) is None):
        return _("時刻は 22:00 のように入力してください。")
    settings.instant_mode = mode
    settings.quiet_from = quiet_from[:5] or None
    settings.quiet_until = quiet_until[:5] or None
    db.session.flush()
    return None
