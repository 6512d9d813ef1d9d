"""Plans: the LINE tab is premium only (from a configurable date), enforced in one place."""
from datetime import date, datetime, timezone

from flask import abort, current_app
from flask_login import current_user

from crm.shops.models import Plan


def line_tab_available(shop, now=None):
    """True when the shop may use the LINE tab now: premium, or a trial that has not ended."""
    now = now or datetime.now(timezone.utc)
    premium_from = date.fromisoformat(current_app.config["LINE_TAB_PREMIUM_FROM"])
    if now.date() < premium_from:
        return True  # before the cutoff every plan had the LINE tab
    if shop.plan == Plan.PREMIUM:
        return True
    if shop.plan == Plan.TRIAL:
        return shop.plan_until is not None and shop.plan_until > now
    return False


def require_line_tab():
    """Answer 403 (with how to upgrade) unless the signed-in shop may use the LINE tab."""
    if current_user.is_authenticated and not line_tab_available(current_user.shop):
        abort(403, description="premium_required")
