"""一斉配信's pages: the list, the composer (segment editor with a live count, preview, quota), a broadcast's page.

Views never commit (crm/transactions.py does).  Services raise UserErrors; the
composer answers them itself (the page again, every field kept, the error
beside its field), HTMX fragments get the one handler's 422 fragment.
"""
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.bookings.models import Service
from crm.bookings.placeholders import PLACEHOLDERS
from crm.broadcasts import blueprint, compose, forms, quota, segments, services
from crm.broadcasts.models import Broadcast, BroadcastStatus, Segment
from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.customers.tags import shop_tags
from crm.database import get_for_shop_or_404, utcnow
from crm.errors import UserError, answer_with
from crm.extensions import db
from crm.line_platform import uploads
from crm.line_platform.outgoing import MAX_IMAGE_BYTES, preview_response
from crm.staff.decorators import owner_required


def _editor_context(definition: dict, errors: str | None = None) -> dict[str, Any]:
    shop_id = current_user.shop_id
    services_ = db.session.scalars(sa.select(Service).where(Service.shop_id == shop_id)
                                   .order_by(Service.position, Service.id)).all()
    return {"definition": definition, "kinds": segments.KINDS, "tags": shop_tags(shop_id),
            "services": services_, "saved": services.saved_segments(shop_id), "field_error": errors}


def _compose_page(broadcast: Broadcast | None, form: Mapping[str, str] | None, error: UserError | None = None,
                  status: int = 200, definition: dict | None = None) -> ResponseReturnValue:
    if definition is None:
        definition = forms.definition_from(form) if form else (
            broadcast.segment_definition if broadcast else segments.empty_definition())
    return render_template("broadcasts/compose.html", broadcast=broadcast, form=form or _form_of(broadcast),
                           error=error, placeholders=tuple(PLACEHOLDERS), rewards=compose.REWARDS,
                           **_editor_context(definition)), status


def _form_of(broadcast: Broadcast | None) -> dict[str, Any]:
    if broadcast is None:
        return {}
    coupon = broadcast.coupon or {}
    values = {"title": broadcast.title, "text": broadcast.text, "coupon_on": "1" if coupon else "",
              "coupon_title": coupon.get("title", ""), "coupon_description": coupon.get("description", ""),
              "coupon_reward": coupon.get("reward", "free"), "coupon_amount": coupon.get("amount") or "",
              "coupon_until": coupon.get("until", "")}
    if broadcast.scheduled_at:
        local = broadcast.scheduled_at.astimezone(segments._zone(current_user.shop.timezone))
        values.update(when="schedule", scheduled_date=local.date().isoformat(), scheduled_time=local.strftime("%H:%M"))
    return values


def _editable(broadcast: Broadcast) -> None:
    if not broadcast.editable:
        abort(409)
    if not current_user.is_owner and (broadcast.author_id != current_user.id
                                      or broadcast.status == BroadcastStatus.SCHEDULED):
        abort(403)


@blueprint.get("/")
@login_required
def index() -> ResponseReturnValue:
    shop_id = current_user.shop_id
    return render_template("broadcasts/index.html", broadcasts=services.for_shop(shop_id),
                           results=services.results(shop_id), describe=lambda d: segments.describe(d, shop_id))


@blueprint.route("/new", methods=["GET", "POST"])
@blueprint.route("/<int:broadcast_id>/edit", methods=["GET", "POST"])
@login_required
def compose_view(broadcast_id: int | None = None) -> ResponseReturnValue:
    broadcast = get_for_shop_or_404(Broadcast, broadcast_id) if broadcast_id else None
    if broadcast is not None:
        _editable(broadcast)
    if request.method == "GET":
        definition = None
        if request.args.get("segment"):  # 保存したセグメント to start from
            definition = get_for_shop_or_404(Segment, request.args["segment"]).definition
        return _compose_page(broadcast, None, definition=definition)
    answer_with(lambda error: _compose_page(broadcast, request.form, error, error.status))
    shop = current_user.shop
    coupon = compose.clean_coupon(request.form, shop.timezone)
    image = uploads.image_choice(shop.id)  # a bad image: refused beside its field, every other field kept
    broadcast = services.save(shop, current_user, broadcast, request.form.get("title", ""),
                              forms.definition_from(request.form), request.form.get("text", ""), coupon, image)
    if request.form.get("action") == "submit":
        services.submit(broadcast, shop, current_user, forms.scheduled_at_from(request.form, shop.timezone))
        flash(_("承認を依頼しました。") if broadcast.status == BroadcastStatus.PENDING else
              _("送信予約しました。") if broadcast.status == BroadcastStatus.SCHEDULED else
              _("配信を開始しました。"), "success")
    else:
        flash(_("下書きを保存しました。"), "success")
    return redirect(url_for("broadcasts.show", broadcast_id=broadcast.id))


@blueprint.url_value_preprocessor
def _room_for_an_image(endpoint, values):
    # Before CSRFProtect reads the form: the composer may carry a 10 MB image.
    if endpoint == "broadcasts.compose_view" and request.method == "POST":
        request.max_content_length = MAX_IMAGE_BYTES + 256 * 1024


@blueprint.get("/<int:broadcast_id>/image")
@login_required
def image(broadcast_id):
    """The preview of a broadcast's image, for the composer and the broadcast's page."""
    return preview_response(get_for_shop_or_404(Broadcast, broadcast_id), current_user.shop_id)


@blueprint.route("/editor", methods=["GET", "POST"])
@login_required
def editor() -> ResponseReturnValue:
    if request.method == "GET":
        segment = get_for_shop_or_404(Segment, request.args.get("segment"))
        definition = segment.definition
    else:
        definition = forms.apply_edit(forms.definition_from(request.form), request.form.get("edit", ""))
    return render_template("broadcasts/_editor.html", **_editor_context(definition))


@blueprint.post("/count")
@login_required
def count() -> ResponseReturnValue:
    shop = current_user.shop
    try:
        definition = segments.clean(forms.definition_from(request.form), shop.id)
    except segments.SegmentError as error:
        return render_template("broadcasts/_count.html", error=error, counted=None)
    counted = segments.count(shop.id, definition, shop.timezone)
    remaining = request.form.get("quota_remaining")
    over = max(0, counted.reachable - int(remaining)) if remaining and remaining.isdigit() else 0
    return render_template("broadcasts/_count.html", error=None, counted=counted, over=over)


@blueprint.get("/quota")
@login_required
def quota_view() -> ResponseReturnValue:
    try:
        current = quota.fetch(current_user.shop_id)
    except quota.QuotaUnavailable as error:
        return render_template("broadcasts/_quota.html", quota=None, error=error)
    return render_template("broadcasts/_quota.html", quota=current, error=None)


@blueprint.post("/preview")
@login_required
def preview() -> ResponseReturnValue:
    shop = current_user.shop
    try:
        definition = segments.clean(forms.definition_from(request.form), shop.id)
        coupon = compose.clean_coupon(request.form, shop.timezone)
        compose.check_text(request.form.get("text", ""), coupon)
    except UserError as error:
        return render_template("_user_error.html", error=error), 422
    sample = db.session.execute(
        segments.customers_select(shop.id, definition, shop.timezone)
        .join(LineFriend, LineFriend.customer_id == Customer.id)
        .where(LineFriend.followed.is_(True), Customer.broadcast_opt_out.is_(False))
        .order_by(Customer.id).limit(1)).scalar()
    person = compose.people([sample], shop, utcnow()).get(sample) if sample else None
    messages = compose.messages_for(request.form.get("text", ""), shop.name,
                                    person or compose.Person(_("（お客様名）"), _("（次回予約）")), None)
    return render_template("broadcasts/_preview.html", messages=messages, coupon=coupon,
                           sample=db.session.get(Customer, sample) if sample else None)


@blueprint.post("/segments")
@login_required
def save_segment() -> ResponseReturnValue:
    segment = services.save_segment(current_user.shop_id, request.form.get("segment_name", ""),
                                    forms.definition_from(request.form))
    return render_template("broadcasts/_segment_saved.html", segment=segment,
                           saved=services.saved_segments(current_user.shop_id))


@blueprint.get("/<int:broadcast_id>")
@login_required
def show(broadcast_id: int) -> ResponseReturnValue:
    broadcast = get_for_shop_or_404(Broadcast, broadcast_id)
    return render_template("broadcasts/show.html", broadcast=broadcast, progress=services.progress(broadcast),
                           approver=services.approver(broadcast),
                           summary=segments.describe(broadcast.segment_definition, current_user.shop_id),
                           messages=compose.messages_for(broadcast.text, current_user.shop.name, None, None))


@blueprint.get("/<int:broadcast_id>/progress")
@login_required
def progress(broadcast_id: int) -> ResponseReturnValue:
    broadcast = get_for_shop_or_404(Broadcast, broadcast_id)
    return render_template("broadcasts/_progress.html", broadcast=broadcast, progress=services.progress(broadcast))


@blueprint.post("/<int:broadcast_id>/approve")
@owner_required
def approve(broadcast_id: int) -> ResponseReturnValue:
    broadcast = get_for_shop_or_404(Broadcast, broadcast_id)
    services.approve(broadcast, current_user.shop, current_user)
    flash(_("承認しました。"), "success")
    return redirect(url_for("broadcasts.show", broadcast_id=broadcast.id))


@blueprint.post("/<int:broadcast_id>/return")
@owner_required
def send_back(broadcast_id: int) -> ResponseReturnValue:
    broadcast = get_for_shop_or_404(Broadcast, broadcast_id)
    services.send_back(broadcast, current_user, request.form.get("comment", ""))
    flash(_("差し戻しました。"), "success")
    return redirect(url_for("broadcasts.show", broadcast_id=broadcast.id))


@blueprint.post("/<int:broadcast_id>/cancel")
@login_required
def cancel(broadcast_id: int) -> ResponseReturnValue:
    broadcast = get_for_shop_or_404(Broadcast, broadcast_id)
    if not current_user.is_owner and broadcast.author_id != current_user.id:
        abort(403)
    services.cancel(broadcast)
    flash(_("一斉配信を取り消しました。"), "success")
    return redirect(url_for("broadcasts.show", broadcast_id=broadcast.id))
