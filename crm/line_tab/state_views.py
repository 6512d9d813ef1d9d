"""A conversation's handling from its header: 要対応 / 対応済み, 担当者, 迷惑メッセージ; and チャット内検索."""
from flask import abort, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from crm.conversations import search as message_search
from crm.conversations import status
from crm.conversations.models import LineFriend
from crm.database import get_for_shop_or_404
from crm.extensions import htmx
from crm.line_tab import blueprint


@blueprint.app_template_global("line_assignable_staff")
def line_assignable_staff():
    """The shop's active staff for the 担当者 select (one query per request)."""
    if "line_assignable_staff" not in g:
        g.line_assignable_staff = status.assignable_staff(current_user.shop_id)
    return g.line_assignable_staff


@blueprint.app_template_global("line_conversation_url")
def line_conversation_url(friend, customer_id=None, at=None):
    """Where a friend's conversation is shown (the customer's LINE tab, or the friend page), at a message."""
    anchor = f"msg-{at}" if at else None
    customer_id = customer_id if customer_id is not None else friend.customer_id
    if customer_id:
        return url_for("customers.show", customer_id=customer_id, tab="line", at=at, _anchor=anchor)
    return url_for("line_tab.friend", friend_id=friend.id, at=at, _anchor=anchor)


def _answer(friend):
    if htmx:
        response = make_response(render_template("line_tab/_conversation_state.html", friend=friend))
        response.headers["HX-Trigger"] = "unread-changed"  # 迷惑メッセージ changes the yellow bar
        return response
    return redirect(request.referrer or line_conversation_url(friend))


@blueprint.post("/line/friends/<int:friend_id>/attention")
def attention(friend_id):
    """要対応 or 対応済み, by hand."""
    friend = get_for_shop_or_404(LineFriend, friend_id)
    value = request.form.get("attention")
    if value not in {a.value for a in status.Attention}:
        abort(400)
    status.set_attention(friend, value)
    return _answer(friend)


@blueprint.post("/line/friends/<int:friend_id>/assignee")
def assignee(friend_id):
    """Give the conversation to one staff member (or to nobody)."""
    friend = get_for_shop_or_404(LineFriend, friend_id)
    raw = request.form.get("assignee_id", "")
    if raw and not raw.isdigit():
        abort(400)
    status.assign(friend, int(raw) if raw else None)
    return _answer(friend)


@blueprint.post("/line/friends/<int:friend_id>/spam")
def spam(friend_id):
    """迷惑メッセージ on or off."""
    friend = get_for_shop_or_404(LineFriend, friend_id)
    status.set_spam(friend, request.form.get("spam") == "1")
    return _answer(friend)


@blueprint.get("/line/search")
def search():
    """チャット内検索: messages and names of the whole shop, hits highlighted, each opening its conversation."""
    result = message_search.search(current_user.shop_id, request.args.get("q"))
    return render_template("line_tab/search.html", result=result)
