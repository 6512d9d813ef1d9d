"""The owner's booking settings: the menu, business hours, closed days, the LINE Login channel."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.bookings import blueprint, catalog, slots, texts
from crm.bookings.forms import ClosureForm, HoursForm, LoginChannelForm, ServiceForm
from crm.bookings.models import Service
from crm.database import get_for_shop_or_404
from crm.line_platform.services import channel_for_shop
from crm.staff.decorators import owner_required
from crm.urls import external_url


def _render_settings(hours_form=None, closure_form=None, login_form=None, status=200):
    shop = current_user.shop
    channel = channel_for_shop(shop.id)
    if login_form is None:
        login_form = LoginChannelForm(formdata=None, login_channel_id=channel.login_channel_id)
    page_url = texts.booking_page_url(shop)
    callback_url = external_url("bookings.line_callback", key=shop.booking_key)
    return render_template(
        "bookings/settings.html",
        shop=shop,
        menu=catalog.menu(shop.id, include_inactive=True),
        hours_form=hours_form or HoursForm(formdata=None, hours=catalog.hours_by_weekday(shop.id)),
        closure_form=closure_form or ClosureForm(formdata=None),
        closures=catalog.closures(shop.id, from_day=slots.first_day(shop)),
        login_form=login_form,
        channel=channel,
        page_url=page_url,
        callback_url=callback_url,
    ), status


@blueprint.get("/settings/booking")
@owner_required
def settings():
    """予約設定: the public page's address, the menu, hours, closed days and LINE Login."""
    return _render_settings()


@blueprint.post("/settings/booking/hours")
@owner_required
def save_hours():
    form = HoursForm(hours=catalog.hours_by_weekday(current_user.shop_id))
    if not form.validate_on_submit():
        return _render_settings(hours_form=form, status=422)
    for weekday, span in form.parsed().items():
        catalog.set_hours(current_user.shop_id, weekday, *(span or (None, None)))
    flash(_("営業時間を保存しました。"), "success")
    return redirect(url_for("bookings.settings") + "#hours")


@blueprint.post("/settings/booking/closures")
@owner_required
def add_closure():
    form = ClosureForm()
    if not form.validate_on_submit():
        return _render_settings(closure_form=form, status=422)
    catalog.add_closure(current_user.shop_id, form.day.data, form.note.data)
    flash(_("休業日を追加しました。"), "success")
    return redirect(url_for("bookings.settings") + "#closures")


@blueprint.post("/settings/booking/closures/remove")
@owner_required
def remove_closure():
    form = ClosureForm()
    if form.validate_on_submit():
        catalog.remove_closure(current_user.shop_id, form.day.data)
        flash(_("休業日を削除しました。"), "success")
    return redirect(url_for("bookings.settings") + "#closures")


@blueprint.post("/settings/booking/line-login")
@owner_required
def save_login_channel():
    """The LINE Login channel the booking page signs customers in with (secret encrypted at rest)."""
    channel = channel_for_shop(current_user.shop_id)
    form = LoginChannelForm()
    if form.validate_on_submit():
        if not form.login_channel_secret.data and not channel.login_channel_secret:
            form.login_channel_secret.errors.append(_("入力してください。"))
        else:
            channel.login_channel_id = form.login_channel_id.data.strip()
            if form.login_channel_secret.data:
                channel.login_channel_secret = form.login_channel_secret.data.strip()
            flash(_("LINEログインの設定を保存しました。"), "success")
            return redirect(url_for("bookings.settings") + "#line-login")
    return _render_settings(login_form=form, status=422)


@blueprint.route("/settings/booking/services/new", methods=["GET", "POST"])
@owner_required
def service_new():
    form = ServiceForm()
    if form.validate_on_submit():
        service = catalog.add_service(
            current_user.shop_id, form.name.data, form.duration_minutes.data, form.price_yen.data,
            description=form.description.data,
        )
        service.active = form.active.data
        flash(_("メニューを追加しました。"), "success")
        return redirect(url_for("bookings.settings") + "#menu")
    status = 422 if request.method == "POST" else 200
    return render_template("bookings/service_form.html", form=form, service=None), status


@blueprint.route("/settings/booking/services/<int:service_id>/edit", methods=["GET", "POST"])
@owner_required
def service_edit(service_id):
    """Edit a menu item; hiding it (active off) keeps its past bookings."""
    service = get_for_shop_or_404(Service, service_id)
    form = ServiceForm(obj=service)
    if form.validate_on_submit():
        service.name = form.name.data.strip()
        service.description = (form.description.data or "").strip()
        service.duration_minutes = form.duration_minutes.data
        service.price_yen = form.price_yen.data
        if form.position.data is not None:
            service.position = form.position.data
        service.active = form.active.data
        flash(_("メニューを保存しました。"), "success")
        return redirect(url_for("bookings.settings") + "#menu")
    status = 422 if request.method == "POST" else 200
    return render_template("bookings/service_form.html", form=form, service=service), status
