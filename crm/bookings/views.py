"""Staff pages: the bookings of a day, cancelling a booking."""
from datetime import date, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.bookings import (  # noqa: F401,E402  (their routes are on the same blueprint)
    blueprint,
    lists,
    public,
    services,
    settings,
    slots,
)
from crm.bookings.models import Booking
from crm.database import get_for_shop_or_404
from crm.staff.forms import ConfirmForm


def _safe_back(target, fallback):
    """Only a path on this site (no scheme, no //host)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


@blueprint.get("/bookings")
@login_required
def day():
    """予約一覧: the bookings of one day, with the previous and next day."""
    shop = current_user.shop
    today = slots.first_day(shop)
    try:
        shown = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        shown = today
    bookings = lists.bookings_on(shop, shown)
    return render_template(
        "bookings/day.html", shop=shop, day=shown, today=today, bookings=bookings,
        previous_day=shown - timedelta(days=1), next_day=shown + timedelta(days=1),
        confirm_form=ConfirmForm(), booked=sum(1 for b in bookings if not b.cancelled),
    )


@blueprint.post("/bookings/<int:booking_id>/cancel")
@login_required
def cancel(booking_id):
    """Cancel a booking (its time becomes free again)."""
    booking = get_for_shop_or_404(Booking, booking_id)
    ConfirmForm().validate_on_submit()
    services.cancel(booking)
    flash(_("予約をキャンセルしました。"), "success")
    local_day = booking.starts_at.astimezone(slots.shop_zone(current_user.shop)).date()
    fallback = url_for("bookings.day", date=local_day.isoformat())
    return redirect(_safe_back(request.form.get("next"), fallback))
