"""The digest tick: which slots are due, deciding each shop's slot once, delivering each digest once.

Every minute (rq cron, or `flask crm tick-digests`) `run_digest_tick(now)`:

1. For each shop timezone, the slots (08:00 and 20:00 local) of the last day
   that have begun.  A slot is due from its time until DIGEST_CATCH_UP_MINUTES
   (120) after it: a scheduler that was down catches up; later than that the
   slot is recorded as skipped rather than sent stale.
2. Each shop's slot is decided once: a `digest_runs` row, UNIQUE (shop_id,
   local_date, slot), inserted with ON CONFLICT DO NOTHING before anything is
   sent.  Its inserter, and only it, writes in the same transaction one
   `digest_sends` row (UNIQUE (staff_id, local_date, slot)) and one in-app
   notification per recipient.  A second scheduler in the same minute inserts
   nothing and sends nothing; a shop with nothing unread gets an "empty" run.
3. Pending sends are claimed with a conditional UPDATE (one claimer wins) and
   delivered: LINE with an X-Line-Retry-Key (a push retried after a crash is
   not delivered twice), email at most once (marked before the SMTP call).
   A claim older than delivery.CLAIM_LEASE (a scheduler died mid-way) is taken over.
4. The staff rich menus are synced, and scheduled messages of shops that lost
   the LINE tab are held.

`now` is passed in everywhere so tests use a frozen clock.
"""
import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.database import insert_ignoring, utcnow
from crm.digests import line_notify
from crm.digests.delivery import catch_up_window, deliver_pending
from crm.digests.models import (
    ChannelStatus,
    DigestRun,
    DigestSend,
    Notification,
    NotificationSettings,
    RunStatus,
    SendStatus,
)
from crm.digests.richmenu import sync_rich_menus
from crm.extensions import db
from crm.line_tab.held import hold_lapsed
from crm.shops.models import Shop
from crm.shops.plans import line_tab_clause
from crm.staff.models import Staff

log = logging.getLogger(__name__)

DECIDE_BATCH = 200
LOOKBACK = timedelta(hours=24)


@dataclass
class TickResult:
    runs: int = 0  # shop slots decided with digests
    empty: int = 0  # shop slots with nothing unread
    skipped: int = 0  # shop slots recorded as skipped (too late)
    sends: int = 0  # digests written
    delivered: int = 0  # digests whose channels were tried
    menus: int = 0  # rich menu links changed
    held: int = 0  # scheduled messages held (the shop lost the LINE tab)
    errors: list = field(default_factory=list)

    def as_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "errors"} | {"errors": len(self.errors)}


# -- slots ------------------------------------------------------------------------------

def slot_times():
    """The configured local slot times, e.g. [time(8, 0), time(20, 0)]."""
    return [time.fromisoformat(s.strip()) for s in current_app.config["DIGEST_SLOTS"].split(",") if s.strip()]


@dataclass(frozen=True)
class Slot:
    local_date: date
    slot: str  # "08:00"
    at: datetime  # UTC

    def due(self, now):
        return self.at <= now < self.at + catch_up_window()


def recent_slots(tz_name, now):
    """The slots of the shop timezone that began within the last day, oldest first."""
    tz = ZoneInfo(tz_name)
    today = now.astimezone(tz).date()
    found = []
    for day in (today - timedelta(days=1), today):
        for t in slot_times():
            at = datetime.combine(day, t, tzinfo=tz).astimezone(timezone.utc)
            if at <= now and now - at < LOOKBACK:
                found.append(Slot(day, t.strftime("%H:%M"), at))
    return sorted(found, key=lambda s: s.at)


# -- SQL helpers ---------------------------------------------------------------------------

def _undecided_shops(tz_name, slot, now):
    """Shops of this timezone that may use the LINE tab and whose slot nobody decided yet."""
    decided = sa.exists().where(DigestRun.shop_id == Shop.id, DigestRun.local_date == slot.local_date,
                                DigestRun.slot == slot.slot)
    return db.session.scalars(
        sa.select(Shop.id).where(Shop.timezone == tz_name, line_tab_clause(now), ~decided).order_by(Shop.id)
    ).all()


# -- what a digest says ----------------------------------------------------------------------

def unread_entries(shop_ids):
    """{shop_id: [entry, ...]} of unread conversations (後で通知 ones included), oldest first."""
    rows = db.session.execute(
        sa.select(LineFriend.id, LineFriend.shop_id, LineFriend.display_name, LineFriend.unread_since,
                  LineFriend.unread_count, LineFriend.notify_later_at, Customer.id, Customer.family_name,
                  Customer.given_name, LineFriend.assignee_id)
        .outerjoin(Customer, Customer.id == LineFriend.customer_id)
        # 迷惑メッセージ friends are left out of every digest.
        .where(LineFriend.shop_id.in_(shop_ids), LineFriend.unread_since.is_not(None), LineFriend.spam_at.is_(None))
        .order_by(LineFriend.shop_id, LineFriend.unread_since, LineFriend.id)
    ).all()
    entries = {}
    for (friend_id, shop_id, display_name, unread_since, unread_count, notify_later_at, customer_id,
         family_name, given_name, assignee_id) in rows:
        name = f"{family_name or ''} {given_name or ''}".strip() if customer_id else ""
        entries.setdefault(shop_id, []).append({
            "friend_id": friend_id,
            "customer_id": customer_id,
            "name": name,
            "line_name": display_name,
            "unread_count": max(unread_count or 0, 1),
            "unread_since": unread_since.isoformat(),
            "notify_later": notify_later_at is not None,
            "assignee_id": assignee_id,
        })
    return entries


def digest_content(shop, slot, entries, now):
    """The snapshot a digest shows (stored on the notification; LINE and email render it)."""
    return {
        "as_of": now.isoformat(),
        "shop_id": shop.id,
        "shop_name": shop.name,
        "timezone": shop.timezone,
        "local_date": slot.local_date.isoformat(),
        "slot": slot.slot,
        "slot_at": slot.at.isoformat(),
        "customers": len(entries),
        "messages": sum(e["unread_count"] for e in entries),
        "oldest_unread_since": min(e["unread_since"] for e in entries),
        "entries": entries,
    }


def _recipients(shop_ids):
    """{shop_id: [(staff_id, email_on, line_user_id, only_mine)]}: active staff who did not opt out."""
    rows = db.session.execute(
        sa.select(Staff.id, Staff.shop_id, NotificationSettings.digest_email, NotificationSettings.line_user_id,
                  Staff.line_only_mine)
        .outerjoin(NotificationSettings, NotificationSettings.staff_id == Staff.id)
        .where(Staff.shop_id.in_(shop_ids), Staff.active.is_(True),
               sa.or_(NotificationSettings.digest_opt_out.is_(None), NotificationSettings.digest_opt_out.is_(False)))
        .order_by(Staff.id)
    ).all()
    found = {}
    for staff_id, shop_id, email_on, line_user_id, only_mine in rows:
        found.setdefault(shop_id, []).append((staff_id, email_on is not False, line_user_id, bool(only_mine)))
    return found


# -- deciding a slot -------------------------------------------------------------------------

def _record_skipped(shop_ids, slot, now):
    if not shop_ids:
        return 0
    rows = [dict(shop_id=shop_id, local_date=slot.local_date, slot=slot.slot, slot_at=slot.at,
                 status=RunStatus.SKIPPED.value, decided_at=now, customers=0, messages=0) for shop_id in shop_ids]
    stmt = insert_ignoring(DigestRun, ["shop_id", "local_date", "slot"])
    db.session.execute(stmt, rows)
    return len(shop_ids)


def decide_shops(shop_ids, slot, now, result):
    """Decide these shops' slot: runs, sends and notifications in one transaction per batch."""
    email_on = bool(current_app.config.get("SMTP_HOST"))
    line_on = line_notify.configured()
    run_stmt = (
        insert_ignoring(DigestRun, ["shop_id", "local_date", "slot"])
        .returning(DigestRun.id)
    )
    send_stmt = (
        insert_ignoring(DigestSend, ["staff_id", "local_date", "slot"])
        .returning(DigestSend.id)
    )
    for start in range(0, len(shop_ids), DECIDE_BATCH):
        batch = shop_ids[start:start + DECIDE_BATCH]
        shops = {s.id: s for s in db.session.scalars(sa.select(Shop).where(Shop.id.in_(batch)))}
        unread = unread_entries(batch)
        recipients = _recipients([shop_id for shop_id in batch if shop_id in unread])
        for shop_id in batch:
            entries = unread.get(shop_id, [])
            status = RunStatus.SENT if entries else RunStatus.EMPTY
            run_id = db.session.execute(run_stmt, dict(
                shop_id=shop_id, local_date=slot.local_date, slot=slot.slot, slot_at=slot.at, status=status.value,
                decided_at=now, customers=len(entries), messages=sum(e["unread_count"] for e in entries),
            )).scalar()
            if run_id is None:
                continue  # another scheduler decided this shop's slot
            if not entries:
                result.empty += 1
                continue
            result.runs += 1
            content = digest_content(shops[shop_id], slot, entries, now)
            for staff_id, wants_email, line_user_id, only_mine in recipients.get(shop_id, []):
                mine = content
                if only_mine:  # 自分の担当のみ: their own conversations, or no digest at all
                    own = [e for e in entries if e["assignee_id"] == staff_id]
                    if not own:
                        continue
                    mine = digest_content(shops[shop_id], slot, own, now)
                send_id = db.session.execute(send_stmt, dict(
                    shop_id=shop_id, staff_id=staff_id, run_id=run_id, local_date=slot.local_date, slot=slot.slot,
                    slot_at=slot.at, status=SendStatus.PENDING.value, created_at=now,
                    line_retry_key=str(uuid.uuid4()),
                    line_status=None if (line_on and line_user_id) else ChannelStatus.OFF.value,
                    email_status=None if (email_on and wants_email) else ChannelStatus.OFF.value,
                )).scalar()
                if send_id is None:
                    continue
                # The in-app channel is delivered with the decision itself.
                db.session.add(Notification(shop_id=shop_id, staff_id=staff_id, kind="digest", data=mine,
                                            digest_send_id=send_id, created_at=now))
                result.sends += 1
        db.session.commit()


def decide_due_slots(now, result):
    """Decide every due slot of every shop timezone; record the missed ones as skipped."""
    timezones = db.session.scalars(sa.select(Shop.timezone).distinct()).all()
    for tz_name in timezones:
        for slot in recent_slots(tz_name, now):
            shop_ids = _undecided_shops(tz_name, slot, now)
            if not shop_ids:
                continue
            if slot.due(now):
                decide_shops(shop_ids, slot, now, result)
            else:
                # Too late: recorded as skipped rather than sent stale.
                result.skipped += _record_skipped(shop_ids, slot, now)
                db.session.commit()


# -- delivering --------------------------------------------------------------------------------

def run_digest_tick(now=None):
    """One scheduler tick (every minute; idempotent, safe to run twice at once). Returns a TickResult."""
    now = now or utcnow()
    result = TickResult()
    decide_due_slots(now, result)
    deliver_pending(now, result)
    result.held = hold_lapsed(now)
    db.session.commit()
    try:
        result.menus = sync_rich_menus(now)
    except Exception as exc:  # the notification channel is down: the next tick tries again
        db.session.rollback()
        log.exception("rich menu sync failed")
        result.errors.append(str(exc))
    db.session.commit()
    return result
