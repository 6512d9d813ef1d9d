"""下書き保存 and 承認待ち on the LINE tab's blueprint (premium only, signed in)."""

from flask import (
    abort,
    render_template,
    request,
)
from flask_babel import gettext as _
from flask_login import current_user

from crm.line_platform import uploads
from crm.line_platform.outgoing import preview_response
from crm.line_tab import blueprint, composer, drafts, times


@blueprint.post("/customers/<int:customer_id>/line/drafts")
@blueprint.post("/line/friends/<int:friend_id>/drafts")
def save_draft(customer_id=None, friend_id=None):
    """下書き保存 / 承認を依頼 from the composer: the author's draft for this friend."""
    customer, friend = composer.linked(customer_id, friend_id)
    text = request.form.get("text", "")
    ask = request.form.get("action") == "request"
    composer.on_error(customer, friend, composer_text=text)
    image = uploads.stored_upload(friend.shop_id)  # a bad image: refused beside the composer, the text kept
    drafts.save_draft(friend, current_user, text, request.form.get("draft_version", 0), request_approval=ask,
                      image=uploads.KEEP if image is None else image)
    notice = _("承認を依頼しました。") if ask else _("下書きを保存しました。")
    return composer.done(customer, friend, notice, composer_text="")


def _draft_or_404(draft_id):
    draft = drafts.get_draft(current_user.shop_id, draft_id)
    if draft is None:
        abort(404)
    return draft


@blueprint.post("/line/drafts/<int:draft_id>")
def update_draft(draft_id):
    """Save an open draft from the drafts panel or the 承認待ち list (version checked)."""
    draft = _draft_or_404(draft_id)
    customer, friend = composer.customer_of(draft.friend_id)
    text = request.form.get("text", "")
    ask = request.form.get("action") == "request"
    if not drafts.may_edit(draft, current_user):
        abort(403)
    composer.on_error(customer, friend, draft_error_id=draft_id, draft_text=text)
    drafts.update_draft(draft, current_user, text, request.form.get("version"), request_approval=ask,
                        image=uploads.image_choice(friend.shop_id))
    return composer.done(customer, friend, _("承認を依頼しました。") if ask else _("下書きを保存しました。"))


@blueprint.get("/line/drafts/<int:draft_id>/image")
def draft_image(draft_id):
    """The preview of a draft's image, shown in the drafts panel and 承認待ち."""
    return preview_response(_draft_or_404(draft_id), current_user.shop_id)


@blueprint.post("/line/drafts/<int:draft_id>/delete")
def delete_draft(draft_id):
    draft = _draft_or_404(draft_id)
    customer, friend = composer.customer_of(draft.friend_id)
    if not drafts.may_edit(draft, current_user):
        abort(403)
    composer.on_error(customer, friend, draft_error_id=draft_id)
    drafts.delete_draft(draft, current_user, request.form.get("version"))
    return composer.done(customer, friend, _("下書きを削除しました。"))


@blueprint.post("/line/drafts/<int:draft_id>/approve")
def approve_draft(draft_id):
    """承認して送信 (mode=send) or 承認して予約 (mode=schedule): the owner; or a direct sender's own draft."""
    draft = _draft_or_404(draft_id)
    if not (current_user.is_owner or (draft.author_id == current_user.id and current_user.may_send_line_directly)):
        abort(403)
    customer, friend = composer.customer_of(draft.friend_id)
    text = request.form.get("text")
    scheduled_at = None
    composer.on_error(customer, friend, draft_error_id=draft_id, draft_text=text, quiet_confirm_id=draft_id, **composer.schedule_echo())
    if request.form.get("mode") == "schedule":
        scheduled_at = composer.when_from_form()
    drafts.approve(draft, current_user, request.form.get("version"), text=text, scheduled_at=scheduled_at)
    if scheduled_at is not None:
        when = times.to_local(scheduled_at, current_user.shop.timezone).strftime("%Y/%m/%d %H:%M")
        return composer.done(customer, friend, _("承認し、%(when)s に送信予約しました。", when=when))
    return composer.done(customer, friend, _("承認して送信しました。"))


@blueprint.post("/line/drafts/<int:draft_id>/return")
def return_draft(draft_id):
    """差し戻し with a comment to the author: owner only."""
    draft = _draft_or_404(draft_id)
    composer.require_owner()
    customer, friend = composer.customer_of(draft.friend_id)
    composer.on_error(customer, friend, draft_error_id=draft_id)
    drafts.return_draft(draft, current_user, request.form.get("version"), request.form.get("comment"),
                        text=request.form.get("text"))
    return composer.done(customer, friend, _("差し戻しました。"))


@blueprint.get("/line/approvals")
def approvals():
    """承認待ち: every draft waiting for approval, across all customers (owner only)."""
    composer.require_owner()
    return render_template("line_tab/approvals.html", pending=drafts.pending_approvals(current_user.shop_id))
