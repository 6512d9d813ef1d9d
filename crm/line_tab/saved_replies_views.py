"""定型文: the owner's list (create, edit, delete); the composer's `/` picker for everyone."""
from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import jobs
from crm.bookings.placeholders import PLACEHOLDERS
from crm.conversations.models import LineFriend
from crm.database import get_for_shop_or_404
from crm.line_tab import blueprint
from crm.line_tab import saved_replies as replies
from crm.staff.decorators import owner_required


def _page(status=200, error=None, editing=None, values=None):
    return render_template("line_tab/saved_replies.html", replies=replies.shop_replies(current_user.shop_id),
                           placeholders=PLACEHOLDERS, error=error, editing=editing,
                           values=values or {}, title_max=replies.TITLE_MAX, body_max=replies.BODY_MAX), status


@blueprint.get("/line/saved-replies")
def saved_replies():
    """The shop's 定型文 (the owner edits them here; staff read them)."""
    return _page()


def _save(reply=None):
    title, body = request.form.get("title", ""), request.form.get("body", "")
    try:
        with jobs.savepoint():
            if reply is None:
                replies.create_reply(current_user.shop_id, title, body)
            else:
                replies.update_reply(reply, title, body)
    except replies.SavedReplyError as exc:  # shown beside the field, what was typed kept
        return _page(422, error=exc, editing=reply.id if reply else "new", values={"title": title, "body": body})
    flash(_("定型文を保存しました。"), "success")
    return redirect(url_for("line_tab.saved_replies"))


@blueprint.post("/line/saved-replies")
@owner_required
def create_saved_reply():
    """A new 定型文."""
    return _save()


@blueprint.post("/line/saved-replies/<int:reply_id>")
@owner_required
def update_saved_reply(reply_id):
    """Change a 定型文."""
    return _save(get_for_shop_or_404(replies.SavedReply, reply_id))


@blueprint.post("/line/saved-replies/<int:reply_id>/delete")
@owner_required
def delete_saved_reply(reply_id):
    """Remove a 定型文."""
    replies.delete_reply(get_for_shop_or_404(replies.SavedReply, reply_id))
    flash(_("定型文を削除しました。"), "success")
    return redirect(url_for("line_tab.saved_replies"))


@blueprint.get("/line/friends/<int:friend_id>/saved-replies")
def saved_reply_picker(friend_id):
    """The `/` picker's items for this conversation: every 定型文 with its placeholders filled."""
    friend = get_for_shop_or_404(LineFriend, friend_id)
    response = jsonify(items=replies.picker_items(friend, current_user.shop),
                       labels={"empty": _("一致する定型文はありません。"), "missing": _("情報なし")})
    response.headers["Cache-Control"] = "no-store"
    return response
