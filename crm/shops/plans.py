"""Plans: the LINE tab is premium only (from a configurable date), enforced in one place.

basic, premium, and trial (premium until plan_until).  From LINE_TAB_PREMIUM_FROM
every LINE-tab route answers 403 (premium_required) for a shop without it; the
`crm/plans/gate.py` guard (whole blueprints) and the LINE tab of a record (crm/line_tab/tabs.py)
call require_line_tab().  Webhooks keep storing what customers send whatever
the plan, so nothing is lost before an upgrade.
"""
from datetime import date, datetime, timezone

import sqlalchemy as sa
from flask import abort, current_app
from flask_login import current_user

from crm.errors import UserError
from crm.shops.models import Plan, Shop


class PremiumRequired(UserError, ValueError):
    """What was asked needs the LINE tab (premium, or a running trial); the raiser says what, translated."""


def _premium_from():
    return date.fromisoformat(current_app.config["LINE_TAB_PREMIUM_FROM"])


def line_tab_available(shop, now=None):
    """True when the shop may use the LINE tab now: premium, or a trial that has not ended."""
    now = now or datetime.now(timezone.utc)
    if now.date() < _premium_from():
        return True  # before the cutoff every plan had the LINE tab
    if shop.plan == Plan.PREMIUM:
        return True
    if shop.plan == Plan.TRIAL:
        return shop.plan_until is not None and shop.plan_until > now
    return False


def line_tab_clause(now):
    """The same rule as line_tab_available, as a SQL condition on Shop."""
    if now.date() < _premium_from():
        return sa.true()
    return sa.or_(Shop.plan == Plan.PREMIUM, sa.and_(Shop.plan == Plan.TRIAL, Shop.plan_until > now))


def require_line_tab():
    """Answer 403 (with how to upgrade) unless the signed-in shop may use the LINE tab."""
    if current_user.is_authenticated and not line_tab_available(current_user.shop):
        abort(403, description="premium_required")
