"""Changing a shop's plan, and what happens to its scheduled LINE messages.

A shop that loses the LINE tab (downgrade to basic, or a trial that ended) has
its 送信予約 messages set to HELD (保留): never sent while it is not premium,
never lost.  After an upgrade the owner releases them (back to SCHEDULED, or
QUEUED when their time has passed) or cancels them on ご利用中プラン.
"""
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from crm.database import utcnow
from crm.extensions import db
from crm.line_tab.held import hold_scheduled
from crm.shops.models import Plan
from crm.shops.plans import line_tab_available


class PlanError(ValueError):
    """A plan change the rules do not allow."""


def end_of_day(day, tz_name):
    """plan_until for "until DAY": the end of that day in the shop's timezone (the trial includes it)."""
    start_next = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=ZoneInfo(tz_name))
    return start_next.astimezone(timezone.utc)


def set_plan(shop, plan, until=None, now=None):
    """Change the plan; holds scheduled messages when the LINE tab is lost. Flushes; returns the held count."""
    now = now or utcnow()
    plan = Plan(plan)
    if plan == Plan.TRIAL:
        if until is None:
            raise PlanError("a trial needs an end date (--until)")
    elif until is not None:
        raise PlanError("--until is for a trial only")
    shop.plan = plan
    shop.plan_until = until if plan == Plan.TRIAL else None
    db.session.flush()
    if not line_tab_available(shop, now):
        return hold_scheduled([shop.id])
    return 0
