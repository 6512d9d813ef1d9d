"""What every page's navigation shows of the LINE tab: whether the shop has it, and the yellow bar's numbers."""
from datetime import datetime

from flask import g
from flask_login import current_user

from crm.conversations.inbox import unread_summary
from crm.line_tab import blueprint
from crm.shops.plans import line_tab_available
from crm.staff.models import Staff


@blueprint.app_template_global("line_tab_enabled")
def line_tab_enabled() -> bool:
    """True when the signed-in shop may use the LINE tab (cached for the request)."""
    if "line_tab_enabled" not in g:
        g.line_tab_enabled = current_user.is_authenticated and line_tab_available(current_user.shop)
    return bool(g.line_tab_enabled)


@blueprint.app_template_global("line_unread")
def line_unread(viewing: int | None = None) -> tuple[int, int, datetime | None]:
    """The yellow bar's numbers for the signed-in shop, leaving out the conversation on screen."""
    return unread_summary(current_user.shop_id, assignee_id=only_mine(current_user), except_friend_id=viewing)


def only_mine(staff: Staff) -> int | None:
    """The staff member's id when they chose 自分の担当のみ for the yellow bar and digests, else None."""
    return staff.id if staff.line_only_mine else None
