"""LINEトーク, live: the inbox by last message, and its cheap "anything new since" check polled by htmx."""
from flask import make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from crm.conversations import inbox as shop_inbox
from crm.conversations.inbox_filters import FILTERS, InboxFilter
from crm.customers.tags import shop_tags, tags_for_customers
from crm.line_tab import blueprint
from crm.line_tab.state_views import line_assignable_staff

# How often an open LINEトーク asks whether anything is new (seconds).
POLL_SECONDS = 3


@blueprint.app_template_global("line_message_label")
def message_label(message) -> str:
    """What a message is, in words, where only a line fits (the inbox): its text, or 写真, スタンプ, 位置情報…"""
    if message.unsent_at is not None:
        return _("取り消し")
    kind = message.message_type
    if kind == "text":
        return message.text or ""
    labels = {
        "image": _("写真"), "video": _("動画"), "audio": _("音声"), "file": _("ファイル"),
        "sticker": _("スタンプ"), "location": _("位置情報"), "imagemap": _("イメージマップ"),
        "template": _("テンプレートメッセージ"), "flex": _("フレックスメッセージ"),
    }
    if message.direction.value == "out" and message.text:
        return message.text  # an outgoing rich message says its altText
    return labels.get(kind, _("メッセージ"))  # never the raw type


def _list(stamp):
    """The list's context under the chosen filter (要対応, 自分の担当, tag …), as on the page."""
    shop_id = current_user.shop_id
    chosen = InboxFilter.from_args(request.args)
    rows = shop_inbox.inbox(shop_id, where=chosen.clauses(shop_id, current_user.id))
    tags = tags_for_customers(shop_id, [customer.id for _friend, customer, _last in rows if customer])
    return dict(rows=rows, tags=tags, chosen=chosen, filters=FILTERS, shop_tags=shop_tags(shop_id),
                staff_names={s.id: s.name for s in line_assignable_staff()}, stamp=stamp, poll_seconds=POLL_SECONDS)


@blueprint.get("/line/inbox")
def inbox():
    """Conversations by their last message, newest first, unread marked, filtered; the list follows new messages live."""
    return render_template("line_tab/inbox.html", **_list(shop_inbox.inbox_stamp(current_user.shop_id)))


@blueprint.get("/line/inbox/changes")
def inbox_changes():
    """204 when nothing changed since `since` (one indexed query, whatever the number of friends); else the list."""
    stamp = shop_inbox.inbox_stamp(current_user.shop_id)
    if stamp == request.args.get("since", ""):
        response = make_response("", 204)
    else:
        response = make_response(render_template("line_tab/_inbox_list.html", **_list(stamp)))
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    return response
