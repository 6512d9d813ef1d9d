"""Template globals of the LINE tab's partials (included by templates other modules render)."""

from flask_login import current_user

from crm.database import utcnow
from crm.extensions import db
from crm.line_tab import blueprint, drafts, lists, times
from crm.staff.models import Staff


@blueprint.app_template_global("line_drafts_for")
def _drafts_for(friend):
    return drafts.drafts_for_friend(friend)


@blueprint.app_template_global("line_my_draft")
def _my_draft(friend):
    from flask import g

    cache = g.setdefault("line_my_draft", {})
    if friend.id not in cache:
        cache[friend.id] = drafts.open_draft(friend, current_user.id)
    return cache[friend.id]


@blueprint.app_template_global("line_staff_name")
def _staff_name(staff_id):
    if not staff_id:
        return ""
    staff = db.session.get(Staff, staff_id)
    return staff.name if staff is not None and staff.shop_id == current_user.shop_id else ""


@blueprint.app_template_global("line_schedule_defaults")
def _schedule_defaults():
    """Quick choices and the default date and time (tomorrow 9:00) in the shop's timezone."""
    tz = current_user.shop.timezone
    choices = times.quick_choices(tz)
    default = next((c for c in choices if c.key == "tomorrow_9"), choices[-1] if choices else None)
    return dict(choices=choices, date=default.date_value if default else "",
                time=default.time_value if default else "", today=times.to_local(utcnow(), tz).date().isoformat())


@blueprint.app_template_global("line_local_input")
def _local_input(value):
    """(date, time) strings of an aware datetime in the shop's timezone, for <input>s."""
    local = times.to_local(value, current_user.shop.timezone)
    return local.date().isoformat(), local.strftime("%H:%M")


@blueprint.app_template_global("line_pending_approval_count")
def _pending_count():
    return drafts.pending_approval_count(current_user.shop_id)


@blueprint.app_template_global("line_failed_send_count")
def _failed_count():
    return lists.failed_send_count(current_user.shop_id)

