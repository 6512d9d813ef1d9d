"""The owner's automatic-response pages: overview, あいさつ, 応答時間, リマインダー, テスト送信."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import errors
from crm.autoreply import blueprint, hours, keyword_views, previews, services
from crm.autoreply.forms import AwayForm, ClosureForm, GreetingForm, ReminderForm
from crm.autoreply.messages import AutoReplyError, check_bubbles
from crm.autoreply.models import AutoReplyClosure, HoursSource
from crm.autoreply.pages import show_error, test_form
from crm.database import get_for_shop_or_404
from crm.staff.decorators import owner_required


@blueprint.get("/")
@owner_required
def index():
    """自動応答: the four settings at a glance."""
    settings = services.settings_for(current_user.shop_id)
    return render_template("autoreply/index.html", settings=settings,
                           rule_count=len(services.rules(current_user.shop_id)))


# -- あいさつメッセージ -------------------------------------------------------------------
def _greeting_page(form, status=200, error=None, preview=None):
    shop = current_user.shop
    if preview is None:
        settings = services.settings_for(shop.id)
        preview = previews.greeting_preview(shop, settings.greeting_bubbles, settings.refollow_text)
    return render_template("autoreply/greeting.html", form=form, preview=preview, test_form=test_form(),
                           form_error=error), status


@blueprint.get("/greeting")
@owner_required
def greeting():
    return _greeting_page(GreetingForm.from_settings(services.settings_for(current_user.shop_id)))


@blueprint.post("/greeting")
@owner_required
def save_greeting():
    form = GreetingForm()
    if not form.validate_on_submit():
        return _greeting_page(form, 422)
    errors.answer_with(lambda e: _greeting_page(form, 422, show_error(form, e)))
    if request.form.get("action") == "preview":
        bubbles = check_bubbles(form.bubble_values())
        return _greeting_page(form, preview=previews.greeting_preview(
            current_user.shop, bubbles, form.refollow_text.data or "", refollow="refollow" in request.form))
    services.save_greeting(current_user.shop_id, form.greeting_enabled.data, form.bubble_values(),
                           form.refollow_text.data or "")
    flash(_("あいさつメッセージを保存しました。"), "success")
    return redirect(url_for("autoreply.greeting"))


# -- 応答時間 / 時間外 ----------------------------------------------------------------------
def _hours_page(form, closure_form=None, status=200, error=None):
    shop = current_user.shop
    settings = services.settings_for(shop.id)
    return render_template(
        "autoreply/hours.html", form=form, closure_form=closure_form or ClosureForm(formdata=None),
        closures=services.closures(shop.id), form_error=error, test_form=test_form(),
        booking_hours=hours.weekly_ranges(shop.id, HoursSource.BOOKING), label=hours.label,
        away_preview=previews.text_preview(shop, settings.away_text),
        holiday_preview=previews.text_preview(shop, settings.holiday_text or settings.away_text),
    ), status


@blueprint.get("/hours")
@owner_required
def away():
    settings = services.settings_for(current_user.shop_id)
    return _hours_page(AwayForm.from_settings(settings, hours.weekly_ranges(current_user.shop_id,
                                                                             HoursSource.CUSTOM)))


@blueprint.post("/hours")
@owner_required
def save_away():
    form = AwayForm()
    if not form.validate_on_submit():
        return _hours_page(form, status=422)
    errors.answer_with(lambda e: _hours_page(form, status=422, error=show_error(form, e)))
    shop_id = current_user.shop_id
    services.save_hours(shop_id, form.ranges())
    services.save_away(shop_id, form.away_enabled.data, form.hours_source.data, form.away_text.data or "",
                       form.holiday_text.data or "", form.away_window_hours.data, form.push_when_late.data)
    flash(_("応答時間と時間外メッセージを保存しました。"), "success")
    return redirect(url_for("autoreply.away"))


def _saved_away_form():
    return AwayForm.from_settings(services.settings_for(current_user.shop_id),
                                  hours.weekly_ranges(current_user.shop_id, HoursSource.CUSTOM))


@blueprint.post("/hours/closures")
@owner_required
def add_closure():
    form = ClosureForm()
    if not form.validate_on_submit():
        return _hours_page(_saved_away_form(), form, 422)
    errors.answer_with(lambda e: _hours_page(_saved_away_form(), form, 422, show_error(form, e)))
    services.add_closure(current_user.shop_id, form.first_day.data, form.last_day.data, form.note.data)
    flash(_("休業日を追加しました。"), "success")
    return redirect(url_for("autoreply.away") + "#closures")


@blueprint.post("/hours/closures/<int:closure_id>/delete")
@owner_required
def remove_closure(closure_id):
    services.remove_closure(get_for_shop_or_404(AutoReplyClosure, closure_id))
    flash(_("休業日を削除しました。"), "success")
    return redirect(url_for("autoreply.away") + "#closures")


# -- 予約リマインダー ---------------------------------------------------------------------
def _reminder_page(form, status=200, error=None):
    settings = services.settings_for(current_user.shop_id)
    return render_template("autoreply/reminder.html", form=form, form_error=error, test_form=test_form(),
                           preview=previews.text_preview(current_user.shop, settings.reminder_text)), status


@blueprint.get("/reminder")
@owner_required
def reminder():
    settings = services.settings_for(current_user.shop_id)
    return _reminder_page(ReminderForm(formdata=None, reminder_enabled=settings.reminder_enabled,
                                       reminder_time=settings.reminder_time, reminder_text=settings.reminder_text))


@blueprint.post("/reminder")
@owner_required
def save_reminder():
    form = ReminderForm()
    if not form.validate_on_submit():
        return _reminder_page(form, 422)
    errors.answer_with(lambda e: _reminder_page(form, 422, show_error(form, e)))
    services.save_reminder(current_user.shop_id, form.reminder_enabled.data, form.reminder_time.data,
                           form.reminder_text.data or "")
    flash(_("予約リマインダーを保存しました。"), "success")
    return redirect(url_for("autoreply.reminder"))


# -- テスト送信 ----------------------------------------------------------------------------
def _saved_messages(kind, audience):
    shop = current_user.shop
    settings = services.settings_for(shop.id)
    if kind == "greeting":
        return previews.greeting_preview(shop, settings.greeting_bubbles, settings.refollow_text,
                                         audience=audience), _("あいさつメッセージ")
    if kind == "away":
        return previews.text_preview(shop, settings.away_text, audience), _("時間外")
    if kind == "holiday":
        return previews.text_preview(shop, settings.holiday_text or settings.away_text, audience), _("休業日")
    if kind == "reminder":
        return previews.text_preview(shop, settings.reminder_text, audience), _("予約リマインダー")
    if kind.startswith("rule-"):
        return keyword_views.rule_test_messages(kind.removeprefix("rule-"), audience)
    raise AutoReplyError(_("送信する内容がありません。"))


@blueprint.post("/test-send/<kind>")
@owner_required
def test_send(kind):
    """テスト送信: the saved setting's messages as that friend would get them, pushed to a sandbox friend."""
    form = test_form()
    back = request.form.get("next") or ""
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("autoreply.index")
    errors.back_to(back)
    if form is None:
        raise AutoReplyError(_("テスト送信は開発環境でのみ使えます。"))
    form.process(request.form)
    if not form.validate_on_submit():
        raise AutoReplyError(_("送信先の友だちを選んでください。"), field="friend_id")
    friend = previews.test_friend(current_user.shop_id, form.friend_id.data)
    messages, label = _saved_messages(kind, previews.friend_audience(current_user.shop, friend))
    previews.test_send(friend, messages, label)
    flash(_("テスト送信しました。"), "success")
    return redirect(back)
