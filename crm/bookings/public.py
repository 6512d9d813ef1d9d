"""The public booking page (/book/<key>): menu, free times, the form, LINE Login, confirmation."""
import logging
import time as clock
from datetime import date, datetime

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from crm import jobs
from crm.bookings import blueprint, catalog, services, slots
from crm.bookings.forms import BookingForm
from crm.bookings.models import Booking
from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.customers.normalize import InvalidPhone
from crm.errors import back_to
from crm.extensions import db, limiter
from crm.line_login import flow
from crm.line_login.client import LoginFailed
from crm.line_platform.services import channel_for_shop
from crm.urls import external_url

log = logging.getLogger(__name__)

FRIEND_KEY = "booking_line"  # the LINE user signed in on this browser, per shop
DONE_KEY = "booking_done"
FRIEND_MAX_AGE_SECONDS = 30 * 60


def _rate_limit():
    return current_app.config.get("BOOKING_RATE_LIMIT", "10/minute;60/hour")


def _shop(key):
    shop = services.shop_by_key(key)
    if shop is None:
        abort(404)
    return shop


def _purpose(shop):
    return f"booking:{shop.id}"


def _login_channel(shop):
    """(channel id, secret) of the shop's LINE Login channel, or None when not set up."""
    channel = channel_for_shop(shop.id, create=False)
    if channel is None or not channel.login_channel_id or not channel.login_channel_secret:
        return None
    return channel.login_channel_id, channel.login_channel_secret


def _callback_url(shop):
    """The redirect URI to register in LINE's console for this shop."""
    return external_url("bookings.line_callback", key=shop.booking_key)


def _parse_start(shop, value):
    """A shop-local 'YYYY-MM-DDTHH:MM' as an aware time, or None."""
    try:
        naive = datetime.strptime(value or "", "%Y-%m-%dT%H:%M")
    except ValueError:
        return None
    return naive.replace(tzinfo=slots.shop_zone(shop))


def _start_param(moment):
    return moment.strftime("%Y-%m-%dT%H:%M")


def _selection(shop, values):
    """The chosen service and start time from a query or form, or (None, None)."""
    service = catalog.active_service(shop.id, values.get("service"))
    start = _parse_start(shop, values.get("start"))
    if service is None or start is None:
        return None, None
    return service, start


def _signed_in_friend(shop):
    """The LINE friend this browser signed in as for this shop, if still fresh."""
    data = session.get(FRIEND_KEY)
    if not isinstance(data, dict) or data.get("shop") != shop.id:
        return None
    if clock.time() - data.get("at", 0) > FRIEND_MAX_AGE_SECONDS:
        session.pop(FRIEND_KEY, None)
        return None
    friend = db.session.get(LineFriend, data.get("friend"))
    if friend is None or friend.shop_id != shop.id:
        return None
    return friend


def _times_url(shop, service, start):
    day = start.date().isoformat() if start else None
    return url_for("bookings.page", key=shop.booking_key, service=service.id if service else None, date=day)


def _back_to_times(shop, service, start, message):
    flash(message, "error")
    return redirect(_times_url(shop, service, start))


@blueprint.get("/book/<key>")
def page(key):
    """The menu; with ?service=, the days and free times for it."""
    shop = _shop(key)
    menu = catalog.menu(shop.id)
    service = None
    days, chosen = [], None
    if request.args.get("service"):
        service = catalog.active_service(shop.id, request.args["service"])
        if service is None:
            flash(_("このメニューは現在ご予約いただけません。"), "error")
            return redirect(url_for("bookings.page", key=shop.booking_key))
        days = slots.calendar(shop, service, lead=catalog.lead_time())
        try:
            wanted = date.fromisoformat(request.args.get("date", ""))
        except ValueError:
            wanted = None
        chosen = next((d for d in days if d.day == wanted), None) or next((d for d in days if d.available), None)
    return render_template(
        "bookings/public/page.html", shop=shop, menu=menu, service=service, days=days, chosen=chosen,
        start_param=_start_param,
    )


@blueprint.route("/book/<key>/form", methods=["GET", "POST"])
@limiter.limit(_rate_limit, methods=["POST"])
def form(key):
    """Name, reading and phone for the chosen service and time; then the booking."""
    shop = _shop(key)
    values = request.form if request.method == "POST" else request.args
    service, start = _selection(shop, values)
    if service is None:
        flash(_("メニューと日時を選んでください。"), "error")
        return redirect(url_for("bookings.page", key=shop.booking_key))
    friend = _signed_in_friend(shop)
    booking_form = BookingForm()
    if request.method == "GET" and friend is not None and friend.customer_id is not None:
        _prefill(booking_form, friend)
    if not slots.is_free(shop, service, start, lead=catalog.lead_time()):
        return _back_to_times(shop, service, start, _("この時間はご予約いただけなくなりました。別の時間をお選びください。"))
    if booking_form.validate_on_submit():
        visitor = services.Visitor(
            booking_form.family_name.data, booking_form.given_name.data, booking_form.family_name_kana.data,
            booking_form.given_name_kana.data, booking_form.phone.data,
        )
        # SlotTaken, SlotUnavailable: flashed, back to the free times.
        back_to(_times_url(shop, service, start))
        try:
            with jobs.savepoint():
                result = services.book(shop, service, start, visitor, friend=friend,
                                       region=current_app.config["DEFAULT_PHONE_REGION"])
        except InvalidPhone:  # beside the field, in the form shown again
            booking_form.phone.errors.append(_("電話番号として正しくありません（例: 090-1234-5678）。"))
        else:
            booking_id = result.booking.id
            session[DONE_KEY] = {"shop": shop.id, "booking": booking_id, "linked": result.linked,
                                 "pending": result.link_pending}
            session.pop(FRIEND_KEY, None)
            return redirect(url_for("bookings.done", key=shop.booking_key), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "bookings/public/form.html", shop=shop, service=service, start=start, form=booking_form,
        friend=friend, line_login=_login_channel(shop) is not None, start_param=_start_param,
    ), status


def _prefill(booking_form, friend):
    customer = db.session.get(Customer, friend.customer_id)
    if customer is None:
        return
    booking_form.family_name.data = customer.family_name
    booking_form.given_name.data = customer.given_name
    booking_form.family_name_kana.data = customer.family_name_kana
    booking_form.given_name_kana.data = customer.given_name_kana
    booking_form.phone.data = customer.phone or ""


@blueprint.post("/book/<key>/line")
@limiter.limit(_rate_limit)
def line_start(key):
    """「LINE連携する」: keep the chosen service and time, and go to LINE Login."""
    shop = _shop(key)
    service, start = _selection(shop, request.form)
    login = _login_channel(shop)
    if service is None or login is None:
        abort(404)
    url = flow.begin(login[0], _callback_url(shop), _purpose(shop),
                     carry={"service": service.id, "start": _start_param(start)})
    return redirect(url)


@blueprint.get("/book/<key>/line/callback")
@limiter.limit(lambda: current_app.config.get("BOOKING_LOGIN_RATE_LIMIT", "20/minute"))
def line_callback(key):
    """Back from LINE Login: check state, code and ID token; remember the LINE user for the booking."""
    shop = _shop(key)
    carry = flow.pending_carry(_purpose(shop)) or {}
    login = _login_channel(shop)
    back = url_for("bookings.form", key=shop.booking_key, **carry) if carry else url_for(
        "bookings.page", key=shop.booking_key)
    if login is None:
        abort(404)
    try:
        identity, carry = flow.finish(request.args, login[0], login[1], _purpose(shop))
    except LoginFailed as exc:
        log.warning("LINE Login for shop %s refused: %s", shop.id, exc.reason)
        cancelled = request.args.get("error") == "access_denied"
        return render_template("bookings/public/login_failed.html", shop=shop, back=back, cancelled=cancelled), 400
    friend = services.friend_from_login(shop.id, identity)
    session[FRIEND_KEY] = {"shop": shop.id, "friend": friend.id, "at": int(clock.time())}
    flash(_("LINEでログインしました。お名前と電話番号を入力して予約を確定してください。"), "success")
    return redirect(url_for("bookings.form", key=shop.booking_key, **carry))


@blueprint.get("/book/<key>/done")
def done(key):
    """The confirmation of the booking just made on this browser."""
    shop = _shop(key)
    data = session.get(DONE_KEY)
    if not isinstance(data, dict) or data.get("shop") != shop.id:
        return redirect(url_for("bookings.page", key=shop.booking_key))
    booking = db.session.get(Booking, data.get("booking"))
    if booking is None or booking.shop_id != shop.id:
        return redirect(url_for("bookings.page", key=shop.booking_key))
    return render_template("bookings/public/done.html", shop=shop, booking=booking,
                           linked=data.get("linked"), pending=data.get("pending"))
