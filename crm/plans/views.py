"""ご利用中プラン: the owner's plan page, and releasing or cancelling held (保留) messages after an upgrade."""
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from crm.errors import back_to
from crm.line_tab.held import cancel_held, held_messages, release_held
from crm.shops.plans import line_tab_available
from crm.staff.decorators import owner_required
from crm.staff.forms import ConfirmForm

blueprint = Blueprint("plans", __name__)


@blueprint.get("/settings/plan")
@owner_required
def plan():
    """The current plan, what premium adds, how to upgrade, and the held messages."""
    shop = current_user.shop
    return render_template("plans/plan.html", shop=shop, line_tab=line_tab_available(shop),
                           held=held_messages(shop.id), form=ConfirmForm(),
                           contact=current_app.config.get("PLAN_CONTACT"))


@blueprint.post("/settings/plan/held")
@owner_required
def held():
    """Release (send as scheduled, or now if the time passed) or cancel held messages: all, or the ticked ones."""
    ConfirmForm().validate_on_submit()
    action = request.form.get("action")
    ids = [int(i) for i in request.form.getlist("message") if i.isdigit()] or None
    shop = current_user.shop
    back_to(url_for("plans.plan"))
    if action == "release":
        released = release_held(shop, ids)  # PremiumRequired: flashed, back to the plan page
        flash(_("保留中のメッセージ%(n)d件の送信予約を再開しました。", n=len(released)), "success")
    elif action == "cancel":
        cancelled = cancel_held(shop, ids)
        flash(_("保留中のメッセージ%(n)d件を取り消しました。", n=len(cancelled)), "success")
    return redirect(url_for("plans.plan"))
