"""What the LINE tab's composer views share: finding the conversation, answering HTMX or a page, the send time.

Buttons in the composer and in the partials post with HTMX
(``hx-target="#line-conversation"``, or the older ``#customer-tabs``) and get the conversation back; plain posts get a
redirect. The services raise UserErrors (DraftError, ScheduleError,
SendRefused; a conflict answers 409); `on_error` says how the one handler
shows them here.
"""
from datetime import timezone

from flask import (
    abort,
    flash,
    redirect,
    request,
    url_for,
)
from flask_login import current_user

from crm.errors import answer_with
from crm.line_tab import times
from crm.line_tab.conversation import conversation_of, render_conversation, wants_conversation


def linked(customer_id=None, friend_id=None):
    """(customer or None, friend) of a composer route, keyed by customer (linked) or by friend (any)."""
    return conversation_of(customer_id, friend_id)


def customer_of(friend_id):
    return conversation_of(friend_id=friend_id)


def tab(customer, friend, status=200, **extra):
    """The conversation again: alone for #line-conversation, the tabs for #customer-tabs, else the page."""
    return render_conversation(customer, friend, status=status, **extra)


def back(customer, friend=None, fallback="line_tab.approvals"):
    """Where a plain (non-HTMX) post goes back to: the page named by `next`, else the customer."""
    target = request.form.get("next")
    if target == "approvals":
        return redirect(url_for("line_tab.approvals"))
    if target == "scheduled":
        return redirect(url_for("line_tab.scheduled"))
    if customer is not None:
        return redirect(url_for("customers.show", customer_id=customer.id, tab="line"))
    if friend is not None:
        return redirect(url_for("line_tab.friend", friend_id=friend.id))
    return redirect(url_for(fallback))


def done(customer, friend, notice, **extra):
    if wants_conversation():
        return tab(customer, friend, drafts_notice=notice, **extra)
    flash(notice, "success")
    return back(customer, friend)


def on_error(customer, friend, quiet_confirm_id=None, **extra):
    """A UserError raised later in this request (after the rollback): the LINE tab again with the error and `extra`.

    `quiet_confirm_id` is where the 22:00-8:00 confirmation shows, for QuietHours only.
    """

    def render(error):
        if isinstance(error, times.QuietHours) and quiet_confirm_id is not None:
            extra["quiet_confirm_id"] = quiet_confirm_id
        if wants_conversation():
            return tab(customer, friend, status=error.status, drafts_error=error.message, **extra)
        flash(error.message, "error")
        return back(customer, friend)

    answer_with(render)


def require_direct_sender():
    if not current_user.may_send_line_directly:
        abort(403)


def require_owner():
    if not current_user.is_owner:
        abort(403)


def when_from_form(confirm_field="confirm_quiet"):
    """The chosen time (UTC) from the form's date and time (or a quick choice), checked."""
    tz = current_user.shop.timezone
    preset = request.form.get("preset")
    choice = times.quick_choice(preset, tz) if preset else None
    if choice is not None:
        when = choice.local.astimezone(timezone.utc)
    else:
        when = times.local_to_utc(request.form.get("date"), request.form.get("time"), tz)
    times.check_time(when, tz, confirm_quiet=bool(request.form.get(confirm_field)))
    return when


def keep(client_key):
    """The composition's client key again, so that the corrected resubmission is the same message."""
    return {"client_key": client_key} if client_key else {}


def schedule_echo():
    return dict(schedule_date=request.form.get("date", ""), schedule_time=request.form.get("time", ""))
