"""送信予約 on the LINE tab's blueprint: schedule, the list, edit, cancel, acknowledged failures.

Staff whose setting is "drafts need approval" get 403 from every send and schedule endpoint.
"""

from flask import (
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from crm.conversations.models import Direction, LineMessage, SendStatus
from crm.database import get_for_shop_or_404
from crm.line_platform import uploads
from crm.line_tab import blueprint, composer, drafts, lists, scheduling, times


@blueprint.post("/customers/<int:customer_id>/line/schedule")
@blueprint.post("/line/friends/<int:friend_id>/schedule")
def schedule(customer_id=None, friend_id=None):
    """送信予約 from the composer: the text (and image) is sent at the chosen time in the shop's timezone."""
    customer, friend = composer.linked(customer_id, friend_id)
    composer.require_direct_sender()
    text = request.form.get("text", "")
    client_key = (request.form.get("client_key") or "")[:64] or None
    composer.on_error(customer, friend, composer_text=text, quiet_confirm_id="new", **composer.keep(client_key), **composer.schedule_echo())
    when = composer.when_from_form()
    image = uploads.stored_upload(friend.shop_id)  # a bad image: refused beside the composer, the text kept
    message = scheduling.schedule_text(friend, text, sender_id=current_user.id, scheduled_at=when,
                                       client_key=client_key, image=image)
    when = times.to_local(message.scheduled_at, current_user.shop.timezone).strftime("%Y/%m/%d %H:%M")
    return composer.done(customer, friend, _("%(when)s に送信予約しました。", when=when), composer_text="")


@blueprint.get("/line/schedule/fields")
def schedule_fields():
    """The date and time fields again: filled by a quick choice, with the 22:00-8:00 warning."""
    tz = current_user.shop.timezone
    choice = times.quick_choice(request.args.get("preset", ""), tz)
    date_value, time_value = request.args.get("date", ""), request.args.get("time", "")
    if choice is not None:
        date_value, time_value = choice.date_value, choice.time_value
    quiet = False
    try:
        quiet = times.in_quiet_hours(times.local_to_utc(date_value, time_value, tz), tz)
    except times.ScheduleError:
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
    composer.require_direct_sender()
    if message.status not in scheduling.EDITABLE:
        abort(409)
    return render_template("line_tab/_scheduled_form.html", m=message)


@blueprint.post("/line/scheduled/<int:message_id>/edit")
def edit_scheduled(message_id):
    """Change a scheduled message's text and time until its sending starts."""
    message = _message_or_404(message_id)
    composer.require_direct_sender()
    customer, friend = composer.customer_of(message.friend_id)
    text = request.form.get("text", "")
    composer.on_error(customer, friend, scheduled_error_id=message_id, quiet_confirm_id=message_id)
    if message.approved_by_id is not None and message.approved_by_id != current_user.id:
        # The owner approved the old text, not this one.
        drafts.return_to_approval(message, current_user, text)
        return composer.done(customer, friend, _("承認済みの予約を変更したため、承認待ちに戻しました。"))
    when = composer.when_from_form()
    scheduling.edit_scheduled(message, text, when)
    return composer.done(customer, friend, _("送信予約を変更しました。"))


@blueprint.post("/line/scheduled/<int:message_id>/cancel")
def cancel_scheduled(message_id):
    """Cancel a scheduled message until its sending starts: it is never sent."""
    message = _message_or_404(message_id)
    composer.require_direct_sender()
    customer, friend = composer.customer_of(message.friend_id)
    composer.on_error(customer, friend, scheduled_error_id=message_id)
    scheduling.cancel_scheduled(message)
    return composer.done(customer, friend, _("送信予約を取り消しました。"))


@blueprint.post("/line/failures/<int:message_id>/ack")
def acknowledge_failure(message_id):
    """The owner has seen that a message could not be sent."""
    message = _message_or_404(message_id)
    composer.require_owner()
    if message.status != SendStatus.FAILED:
        abort(409)
    lists.acknowledge_failure(message, current_user)
    return redirect(url_for("line_tab.scheduled"))
