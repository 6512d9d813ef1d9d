"""The owner's LINE settings, unlinked friends, media files (the webhook is in ingress.py)."""
import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from linebot.v3.messaging import ApiException

from crm import jobs
from crm.conversations.models import LineMessage
from crm.database import get_for_shop_or_404
from crm.line_platform import blueprint, outgoing, services
from crm.line_platform.channels import check_channel, line_error_reason
from crm.line_platform.forms import ChannelForm
from crm.line_platform.richmenu import install
from crm.line_platform.richmenu import summary as richmenu_summary
from crm.staff.decorators import owner_required
from crm.storage import InvalidKey, check_key, get_storage
from crm.storage.serving import send_media
from crm.urls import external_url

log = logging.getLogger(__name__)


@blueprint.route("/settings/line", methods=["GET", "POST"])
@owner_required
def settings():
    """The shop's LINE channel: credentials, and the result of checking them with LINE."""
    channel = services.channel_for_shop(current_user.shop_id)
    form = ChannelForm(obj=channel if request.method == "GET" else None)
    if request.method == "GET":
        form.channel_secret.data = form.channel_access_token.data = ""
    result = None
    if form.validate_on_submit():
        missing = services.save_channel(
            channel, form.channel_id.data, form.channel_secret.data, form.channel_access_token.data
        )
        if missing:
            for field in missing:
                getattr(form, field).errors.append(_("入力してください。"))
        else:
            result = check_channel(channel)
            if not result.problems:
                flash(_("LINE設定を保存し、接続を確認しました。"), "success")
    return render_template(
        "line_platform/settings.html", form=form, channel=channel, result=result,
        webhook_url=services.webhook_url_of(channel), rich_menu=richmenu_summary(),
    )


@blueprint.post("/settings/line/rich-menu")
@owner_required
def install_rich_menu():
    """Install the customer rich menu (予約する, 予約を確認する) on LINE."""
    channel = services.channel_for_shop(current_user.shop_id)
    if not channel.configured:
        flash(_("先にLINEチャネルを設定してください。"), "error")
        return redirect(url_for("line_platform.settings"))
    try:
        # The booking page is found by its endpoint's name: the gateway does not import bookings.
        with jobs.savepoint():  # nothing of a half-done install stays
            install(channel, external_url("bookings.page", key=current_user.shop.booking_key))
    except ApiException as exc:
        flash(_("リッチメニューを設定できませんでした: %(reason)s", reason=line_error_reason(exc)), "error")
        return redirect(url_for("line_platform.settings"))
    flash(_("リッチメニュー（予約する・予約を確認する）を設定しました。"), "success")
    return redirect(url_for("line_platform.settings"))


@blueprint.get("/line/media/<int:message_id>")
@login_required
def media(message_id):
    """A stored image, video, audio or file a customer sent."""
    message = get_for_shop_or_404(LineMessage, message_id)
    if message.media_status != "stored" or not message.media_path:
        abort(404)
    try:
        key = check_key(message.media_path, message.shop_id)
    except InvalidKey:
        abort(404)
    download = message.message_type == "file"
    return send_media(get_storage(), key, message.media_content_type, as_attachment=download,
                      download_name=(message.payload or {}).get("fileName") if download else None)


@blueprint.get("/line/images/<token>")
def outgoing_media(token):
    """An image staff sent, fetched by LINE (no sign-in): the signed, expiring token names the stored object."""
    key = outgoing.key_of(token)
    if key is None:
        abort(403)  # a wrong or expired signature
    try:
        check_key(key)
    except InvalidKey:
        abort(404)
    mimetype = "image/png" if key.endswith(".png") else "image/jpeg"
    return send_media(get_storage(), key, mimetype)
