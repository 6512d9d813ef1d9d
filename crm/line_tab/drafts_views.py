"""下書き保存, 承認待ち and 送信予約 on the LINE tab's blueprint (premium only, signed in).

Buttons in the composer and in the partials post here with HTMX
(``hx-target="#customer-tabs"``) and get the LINE tab back; plain posts get a
redirect.  Staff whose setting is "drafts need approval" get 403 from every
send and schedule endpoint.  The services raise UserErrors (DraftError,
ScheduleError, SendRefused; a conflict answers 409); `_on_error` says how the
one handler shows them here.
"""
from datetime import timezone

from flask import (
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from crm.conversations.friends import friend_of
from crm.conversations.models import Direction, LineFriend, LineMessage, SendStatus
from crm.customers.models import Customer
from crm.database import get_for_shop_or_404, utcnow
from crm.errors import answer_with
from crm.extensions import db, htmx
from crm.line_tab import blueprint, drafts, lists, scheduling
from crm.line_tab.conversation import conversation_of, render_conversation, wants_conversation
from crm.staff.models import Staff


# -- template helpers (the partials are included by templates this module does not render) --------
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
    choices = scheduling.quick_choices(tz)
    default = next((c for c in choices if c.key == "tomorrow_9"), choices[-1] if choices else None)
    return dict(choices=choices, date=default.date_value if default else "",
                time=default.time_value if default else "", today=scheduling.to_local(utcnow(), tz).date().isoformat())


@blueprint.app_template_global("line_local_input")
def _local_input(value):
    """(date, time) strings of an aware datetime in the shop's timezone, for <input>s."""
    local = scheduling.to_local(value, current_user.shop.timezone)
    return local.date().isoformat(), local.strftime("%H:%M")


@blueprint.app_template_global("line_pending_approval_count")
def _pending_count():
    return drafts.pending_approval_count(current_user.shop_id)


@blueprint.app_template_global("line_failed_send_count")
def _failed_count():
    return lists.failed_send_count(current_user.shop_id)


@blueprint.record_once
def _ticker(state):
    scheduling.init_ticker(state.app)


# -- helpers ---------------------------------------------------------------------------------
def _customer_of(friend_id):
    return conversation_of(friend_id=friend_id)


def _tab(customer, friend, status=200, **extra):
    return render_conversation(customer, friend, status=status, **extra)


def _back(customer, friend=None, fallback="line_tab.approvals"):
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


def _done(customer, friend, notice, **extra):
    if wants_conversation():
        return _tab(customer, friend, drafts_notice=notice, **extra)
    flash(notice, "success")
    return _back(customer, friend)


def _on_error(customer, friend, quiet_confirm_id=None, **extra):
    """A UserError raised later in this request (after the rollback): the LINE tab again with the error and `extra`.

    `quiet_confirm_id` is where the 22:00-8:00 confirmation shows, for QuietHours only.
    """

    def render(error):
        if isinstance(error, scheduling.QuietHours) and quiet_confirm_id is not None:
            extra["quiet_confirm_id"] = quiet_confirm_id
        if wants_conversation():
            return _tab(customer, friend, status=error.status, drafts_error=error.message, **extra)
        flash(error.message, "error")
        return _back(customer, friend)

    answer_with(render)


def _require_direct_sender():
    if not current_user.may_send_line_directly:
        abort(403)


def _require_owner():
    if not current_user.is_owner:
        abort(403)


def _when_from_form(confirm_field="confirm_quiet"):
    """The chosen time (UTC) from the form's date and time (or a quick choice), checked."""
    tz = current_user.shop.timezone
    preset = request.form.get("preset")
    choice = scheduling.quick_choice(preset, tz) if preset else None
    if choice is not None:
        when = choice.local.astimezone(timezone.utc)
    else:
        when = scheduling.local_to_utc(request.form.get("date"), request.form.get("time"), tz)
    scheduling.check_time(when, tz, confirm_quiet=bool(request.form.get(confirm_field)))
    return when


def _keep(client_key):
    """The composition's client key again, so that the corrected resubmission is the same message."""
    return {"client_key": client_key} if client_key else {}


def _schedule_echo():
    return dict(schedule_date=request.form.get("date", ""), schedule_time=request.form.get("time", ""))


# -- drafts ------------------------------------------------------------------------------------
@blueprint.post("/customers/<int:customer_id>/line/drafts")
@blueprint.post("/line/friends/<int:friend_id>/drafts")
def save_draft(customer_id=None, friend_id=None):
    """下書き保存 / 承認を依頼 from the composer: the author's draft for this friend."""
    customer, friend = conversation_of(customer_id, friend_id)
    text = request.form.get("text", "")
    ask = request.form.get("action") == "request"
    _on_error(customer, friend, composer_text=text)
    drafts.save_draft(friend, current_user, text, request.form.get("draft_version", 0), request_approval=ask)
    notice = _("承認を依頼しました。") if ask else _("下書きを保存しました。")
    return _done(customer, friend, notice, composer_text="")


def _draft_or_404(draft_id):
    draft = drafts.get_draft(current_user.shop_id, draft_id)
    if draft is None:
        abort(404)
    return draft


@blueprint.post("/line/drafts/<int:draft_id>")
def update_draft(draft_id):
    """Save an open draft from the drafts panel or the 承認待ち list (version checked)."""
    draft = _draft_or_404(draft_id)
    customer, friend = _customer_of(draft.friend_id)
    text = request.form.get("text", "")
    ask = request.form.get("action") == "request"
    if not drafts.may_edit(draft, current_user):
        abort(403)
    _on_error(customer, friend, draft_error_id=draft_id, draft_text=text)
    drafts.update_draft(draft, current_user, text, request.form.get("version"), request_approval=ask)
    return _done(customer, friend, _("承認を依頼しました。") if ask else _("下書きを保存しました。"))


@blueprint.post("/line/drafts/<int:draft_id>/delete")
def delete_draft(draft_id):
    draft = _draft_or_404(draft_id)
    customer, friend = _customer_of(draft.friend_id)
    if not drafts.may_edit(draft, current_user):
        abort(403)
    _on_error(customer, friend, draft_error_id=draft_id)
    drafts.delete_draft(draft, current_user, request.form.get("version"))
    return _done(customer, friend, _("下書きを削除しました。"))


@blueprint.post("/line/drafts/<int:draft_id>/approve")
def approve_draft(draft_id):
    """承認して送信 (mode=send) or 承認して予約 (mode=schedule): the owner; or a direct sender's own draft."""
    draft = _draft_or_404(draft_id)
    if not (current_user.is_owner or (draft.author_id == current_user.id and current_user.may_send_line_directly)):
        abort(403)
    customer, friend = _customer_of(draft.friend_id)
    text = request.form.get("text")
    scheduled_at = None
    _on_error(customer, friend, draft_error_id=draft_id, draft_text=text, quiet_confirm_id=draft_id, **_schedule_echo())
    if request.form.get("mode") == "schedule":
        scheduled_at = _when_from_form()
    drafts.approve(draft, current_user, request.form.get("version"), text=text, scheduled_at=scheduled_at)
    if scheduled_at is not None:
        when = scheduling.to_local(scheduled_at, current_user.shop.timezone).strftime("%Y/%m/%d %H:%M")
        return _done(customer, friend, _("承認し、%(when)s に送信予約しました。", when=when))
    return _done(customer, friend, _("承認して送信しました。"))


@blueprint.post("/line/drafts/<int:draft_id>/return")
def return_draft(draft_id):
    """差し戻し with a comment to the author: owner only."""
    draft = _draft_or_404(draft_id)
    _require_owner()
    customer, friend = _customer_of(draft.friend_id)
    _on_error(customer, friend, draft_error_id=draft_id)
    drafts.return_draft(draft, current_user, request.form.get("version"), request.form.get("comment"),
                        text=request.form.get("text"))
    return _done(customer, friend, _("差し戻しました。"))


@blueprint.get("/line/approvals")
def approvals():
    """承認待ち: every draft waiting for approval, across all customers (owner only)."""
    _require_owner()
    return render_template("line_tab/approvals.html", pending=drafts.pending_approvals(current_user.shop_id))


# -- 送信予約 -----------------------------------------------------------------------------------
@blueprint.post("/customers/<int:customer_id>/line/schedule")
@blueprint.post("/line/friends/<int:friend_id>/schedule")
def schedule(customer_id=None, friend_id=None):
    """送信予約 from the composer: the text is sent at the chosen time in the shop's timezone."""
    customer, friend = conversation_of(customer_id, friend_id)
    _require_direct_sender()
    text = request.form.get("text", "")
    client_key = (request.form.get("client_key") or "")[:64] or None
    _on_error(customer, friend, composer_text=text, quiet_confirm_id="new", **_keep(client_key), **_schedule_echo())
    when = _when_from_form()
    message = scheduling.schedule_text(friend, text, sender_id=current_user.id, scheduled_at=when,
                                       client_key=client_key)
    when = scheduling.to_local(message.scheduled_at, current_user.shop.timezone).strftime("%Y/%m/%d %H:%M")
    return _done(customer, friend, _("%(when)s に送信予約しました。", when=when), composer_text="")


@blueprint.get("/line/schedule/fields")
def schedule_fields():
    """The date and time fields again: filled by a quick choice, with the 22:00-8:00 warning."""
    tz = current_user.shop.timezone
    choice = scheduling.quick_choice(request.args.get("preset", ""), tz)
    date_value, time_value = request.args.get("date", ""), request.args.get("time", "")
    if choice is not None:
        date_value, time_value = choice.date_value, choice.time_value
    quiet = False
    try:
        quiet = scheduling.in_quiet_hours(scheduling.local_to_utc(date_value, time_value, tz), tz)
    except scheduling.ScheduleError:
        pass
    if request.args.get("part") == "warning":
        return render_template("line_tab/_quiet_warning.html", quiet=quiet)
    return render_template("line_tab/_schedule_fields.html", schedule_date=date_value, schedule_time=time_value,
                           quiet=quiet, prefix=request.args.get("prefix", "composer"))


@blueprint.get("/line/scheduled")
def scheduled():
    """送信予約: every scheduled message of the shop, and (for the owner) those that could not be sent."""
    shop_id = current_user.shop_id
    failures = lists.failed_sends(shop_id) if current_user.is_owner else []
    return render_template("line_tab/scheduled.html", messages=lists.scheduled_for_shop(shop_id),
                           failures=failures)


def _message_or_404(message_id):
    message = get_for_shop_or_404(LineMessage, message_id)
    if message.direction != Direction.OUTGOING:
        abort(404)
    return message


@blueprint.get("/line/scheduled/<int:message_id>/form")
def scheduled_form(message_id):
    """The edit form of a scheduled message, opened inside the conversation."""
    message = _message_or_404(message_id)
    _require_direct_sender()
    if message.status not in scheduling.EDITABLE:
        abort(409)
    return render_template("line_tab/_scheduled_form.html", m=message)


@blueprint.post("/line/scheduled/<int:message_id>/edit")
def edit_scheduled(message_id):
    """Change a scheduled message's text and time until its sending starts."""
    message = _message_or_404(message_id)
    _require_direct_sender()
    customer, friend = _customer_of(message.friend_id)
    text = request.form.get("text", "")
    _on_error(customer, friend, scheduled_error_id=message_id, quiet_confirm_id=message_id)
    if message.approved_by_id is not None and message.approved_by_id != current_user.id:
        # The owner approved the old text, not this one.
        drafts.return_to_approval(message, current_user, text)
        return _done(customer, friend, _("承認済みの予約を変更したため、承認待ちに戻しました。"))
    when = _when_from_form()
    scheduling.edit_scheduled(message, text, when)
    return _done(customer, friend, _("送信予約を変更しました。"))


@blueprint.post("/line/scheduled/<int:message_id>/cancel")
def cancel_scheduled(message_id):
    """Cancel a scheduled message until its sending starts: it is never sent."""
    message = _message_or_404(message_id)
    _require_direct_sender()
    customer, friend = _customer_of(message.friend_id)
    _on_error(customer, friend, scheduled_error_id=message_id)
    scheduling.cancel_scheduled(message)
    return _done(customer, friend, _("送信予約を取り消しました。"))


@blueprint.post("/line/failures/<int:message_id>/ack")
def acknowledge_failure(message_id):
    """The owner has seen that a message could not be sent."""
    message = _message_or_404(message_id)
    _require_owner()
    if message.status != SendStatus.FAILED:
        abort(409)
    lists.acknowledge_failure(message, current_user)
    return redirect(url_for("line_tab.scheduled"))
