"""通知 (the in-app notification list), 通知設定 (opt-out, connecting LINE) and the notification bot's webhook."""
import json
import logging
import re

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm import jobs
from crm.broadcasts.models import Broadcast, BroadcastStatus
from crm.database import utcnow
from crm.digests import blueprint, connections, instant, line_notify
from crm.digests.models import Notification
from crm.digests.render import (
    entry_endpoint,
    entry_name,
    local_time,
    summary,
    title,
    waited,
)
from crm.extensions import csrf, db, limiter
from crm.line_platform.deliveries import signature_is_valid
from crm.line_tab.models import DraftStatus, LineDraft
from crm.linking.models import LinkRequest, RequestStatus
from crm.shops.plans import line_tab_available
from crm.staff.forms import ConfirmForm

log = logging.getLogger(__name__)

NOTIFICATIONS_PAGE = 50


@blueprint.app_template_global()
def digest_entry_url(entry):
    """Where a digest entry links to: the customer's LINE tab (or the unlinked friend's page)."""
    endpoint, values = entry_endpoint(entry)
    return url_for(endpoint, **values)


@blueprint.app_template_global()
def digest_text(name, *args):
    """The digest's words for templates: title, summary, entry_name, local_time."""
    from flask_babel import get_locale

    if name == "local_time":
        return local_time(*args, str(get_locale() or "ja"))
    return {"title": title, "summary": summary, "entry_name": entry_name, "waited": waited}[name](*args)


@blueprint.get("/notifications")
@login_required
def notifications():
    """The signed-in staff member's notifications, newest first; opening the list marks them read."""
    rows = db.session.scalars(
        sa.select(Notification).where(Notification.staff_id == current_user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(NOTIFICATIONS_PAGE)
    ).all()
    unread_ids = [n.id for n in rows if n.read_at is None]
    page = render_template("digests/notifications.html", notifications=rows, unread_ids=set(unread_ids))
    if unread_ids:
        db.session.execute(
            sa.update(Notification).where(Notification.id.in_(unread_ids), Notification.staff_id == current_user.id)
            .values(read_at=utcnow()).execution_options(synchronize_session=False)
        )
    return page


@blueprint.get("/notifications/badge")
@login_required
def notifications_badge():
    """Fragment: the nav link's unread count (loaded by HTMX, so pages keep their query count)."""
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(Notification)
        .where(Notification.staff_id == current_user.id, Notification.read_at.is_(None))
    )
    return render_template("digests/_badge.html", count=count)


@blueprint.get("/nav/badges")
@login_required
def nav_badges():
    """Fragment: the owner's 連携依頼, 承認待ち and staff 一斉配信 waiting counts for the nav, one query, out of band."""
    requests = approvals = broadcasts = 0
    if current_user.is_owner:
        shop_id = current_user.shop_id
        link_requests = (sa.select(sa.func.count()).select_from(LinkRequest)
                         .where(LinkRequest.shop_id == shop_id, LinkRequest.status == RequestStatus.PENDING)
                         .scalar_subquery())
        drafts = (sa.select(sa.func.count()).select_from(LineDraft)
                  .where(LineDraft.shop_id == shop_id, LineDraft.status == DraftStatus.PENDING).scalar_subquery())
        waiting = (sa.select(sa.func.count()).select_from(Broadcast)
                   .where(Broadcast.shop_id == shop_id, Broadcast.status == BroadcastStatus.PENDING).scalar_subquery())
        requests, approvals, broadcasts = db.session.execute(sa.select(link_requests, drafts, waiting)).one()
        if not line_tab_available(current_user.shop):
            approvals = broadcasts = 0
    response = current_app.make_response(render_template("digests/_nav_badges.html", requests=requests,
                                                         approvals=approvals, broadcasts=broadcasts))
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/profile/notifications", methods=["GET", "POST"])
@login_required
def profile():
    """通知設定: receive the daily digests or not, by email or not; connect the staff member's own LINE."""
    settings = connections.settings_for(current_user)
    if request.method == "POST":
        ConfirmForm().validate_on_submit()  # CSRF is checked globally
        if request.form.get("part") == "instant":
            error = instant.update_preferences(settings, request.form.get("instant_mode"),
                                               request.form.get("quiet_from"), request.form.get("quiet_until"))
            if error:
                return render_template("digests/profile.html", settings=settings, form=ConfirmForm(), code=None,
                                       line_available=line_notify.configured(), instant_error=error,
                                       basic_id=current_app.config.get("NOTIFY_LINE_BASIC_ID")), 422
        else:
            settings.digest_opt_out = request.form.get("digest") != "on"
            settings.digest_email = request.form.get("email") == "on"
            current_user.line_only_mine = request.form.get("only_mine") == "on"
        flash(_("通知設定を保存しました。"), "success")
        return redirect(url_for("digests.profile"))
    return render_template("digests/profile.html", settings=settings, form=ConfirmForm(), code=None,
                           line_available=line_notify.configured(),
                           basic_id=current_app.config.get("NOTIFY_LINE_BASIC_ID"))


@blueprint.post("/profile/notifications/line-code")
@login_required
def line_code():
    """Issue a one-time code to send to the notification bot; shown once."""
    ConfirmForm().validate_on_submit()
    if not line_notify.configured():
        abort(404)
    code = connections.new_link_code(current_user)
    settings = connections.settings_for(current_user)
    return render_template("digests/profile.html", settings=settings, form=ConfirmForm(), code=code,
                           line_available=True, basic_id=current_app.config.get("NOTIFY_LINE_BASIC_ID"))


@blueprint.post("/profile/notifications/line-disconnect")
@login_required
def line_disconnect():
    ConfirmForm().validate_on_submit()
    settings = connections.settings_for(current_user)
    connections.disconnect(settings)
    flash(_("LINEとの連携を解除しました。"), "success")
    return redirect(url_for("digests.profile"))


_CODE_IN_TEXT = re.compile(r"[A-Za-z0-9]{4}[\s-]?[A-Za-z0-9]{4}")


@blueprint.post("/line/notify-webhook")
@csrf.exempt  # LINE signs the body instead
@limiter.exempt
def notify_webhook():
    """The notification bot's webhook: a staff member sends their one-time code to connect their LINE."""
    if not line_notify.configured():
        abort(404)
    body = request.get_data(cache=False)
    if len(body) > current_app.config["WEBHOOK_MAX_BYTES"]:
        abort(413)
    if not signature_is_valid(current_app.config["NOTIFY_LINE_CHANNEL_SECRET"], body,
                              request.headers.get("X-Line-Signature")):
        log.warning("notify webhook refused: bad signature")
        return {"message": "invalid signature"}, 400
    try:
        events = json.loads(body).get("events") or []
    except (ValueError, AttributeError):
        return {"message": "malformed JSON"}, 400
    for event in events:
        if not isinstance(event, dict):
            continue
        user_id = (event.get("source") or {}).get("userId")
        if not user_id:
            continue
        kind = event.get("type")
        if kind == "unfollow":
            connections.disconnect_line_user(user_id)
        elif kind == "follow":
            jobs.enqueue_after_commit(line_notify.reply, event.get("replyToken"), _(
                "友だち追加ありがとうございます。顧客台帳の「通知設定」で表示される連携コードを、このトークに送信してください。"))
        elif kind == "message" and (event.get("message") or {}).get("type") == "text":
            match = _CODE_IN_TEXT.search(event["message"].get("text") or "")
            settings = connections.connect_with_code(match.group(0), user_id) if match else None
            if settings is not None:
                jobs.enqueue_after_commit(line_notify.reply, event.get("replyToken"), _(
                    "顧客台帳の通知と連携しました。未読メッセージのお知らせ（毎日8時・20時）をこのトークにお送りします。"))
            else:
                jobs.enqueue_after_commit(line_notify.reply, event.get("replyToken"), _(
                    "連携コードが正しくないか、有効期限が切れています。顧客台帳の「通知設定」で新しいコードを発行してください。"))
    # The replies are jobs after the request's commit: linked before anyone is
    # answered, and no transaction open while LINE is called.
    return {}, 200

