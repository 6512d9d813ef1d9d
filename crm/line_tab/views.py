"""The LINE tab: conversation pages and polling, sending, read state, 後で通知, inbox, yellow bar.

Every route here is on the `line_tab` blueprint, whose guard refuses shops without the LINE tab.
"""
from datetime import datetime, timezone

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from crm import jobs
from crm.conversations import inbox as shop_inbox
from crm.conversations import paging, read_state
from crm.conversations.models import LineMessage
from crm.database import get_for_shop_or_404
from crm.extensions import db, htmx
from crm.line_platform.outgoing import ImageRefused, store_image
from crm.line_platform.sending import (
    NotResendable,
    SendRefused,
    queue_image,
    queue_image_with_text,
    queue_text,
    resend,
)
from crm.line_platform.uploads import uploaded_image
from crm.line_tab import blueprint, export
from crm.line_tab.conversation import conversation_of, render_conversation
from crm.line_tab.nav import line_unread, only_mine
from crm.line_tab.saved_replies import refuse_to_send
from crm.line_tab.times import ScheduleError, local_to_utc


def _tabs(customer, friend, status=200, **extra):
    return render_conversation(customer, friend, status=status, **extra)


def _conversation_url(customer, friend):
    if customer is not None:
        return url_for("customers.show", customer_id=customer.id, tab="line")
    return url_for("line_tab.friend", friend_id=friend.id)


@blueprint.get("/customers/<int:customer_id>/line/older")
@blueprint.get("/line/friends/<int:friend_id>/older")
def older(customer_id=None, friend_id=None):
    """The page of messages before a cursor (loaded as the user scrolls up), by keyset."""
    customer, friend = conversation_of(customer_id, friend_id)
    cursor = paging.parse_cursor(request.args.get("before"))
    if cursor is None:
        abort(400)
    page = paging.page(friend, before=cursor)
    return render_template("line_tab/_older.html", customer=customer, friend=friend, page=page,
                           messages=page.messages)


@blueprint.get("/customers/<int:customer_id>/line/poll")
@blueprint.get("/line/friends/<int:friend_id>/poll")
def poll(customer_id=None, friend_id=None):
    """New messages since the last poll (appended) and changed ones (replaced), every few seconds.

    A poll reads new messages only when nobody set the conversation aside (後で通知):
    what the user set aside stays unread until an explicit read (opening it anew, 既読にする).
    """
    customer, friend = conversation_of(customer_id, friend_id)
    after = request.args.get("after", 0, type=int)
    try:
        changed_since = datetime.fromisoformat(request.args.get("since", ""))
    except ValueError:
        changed_since = None
    polled_at = datetime.now(timezone.utc)
    new, changed = paging.since(friend, after, changed_since)
    if any(m.direction.value == "in" for m in new) and friend.notify_later_at is None:
        read_state.mark_read(friend, current_user)  # the conversation is on someone's screen
    # The request commits after rendering: the commit expires what was rendered.
    return render_template("line_tab/_poll.html", customer=customer, friend=friend, new=new, changed=changed,
                           poll_after=paging.latest_id(new, after), poll_since=polled_at.isoformat())


@blueprint.post("/customers/<int:customer_id>/line/messages")
@blueprint.post("/line/friends/<int:friend_id>/messages")
def send(customer_id=None, friend_id=None):
    """Send the composer now (to any friend, linked or not): its text, or its image (and text); the client key makes a repeat harmless."""
    customer, friend = conversation_of(customer_id, friend_id)
    if not current_user.may_send_line_directly:
        abort(403)
    text = request.form.get("text", "")
    client_key = (request.form.get("client_key") or "")[:64] or None
    if client_key and db.session.scalar(
        db.select(LineMessage.id).where(LineMessage.shop_id == friend.shop_id, LineMessage.client_key == client_key)
    ):
        return _after_send(customer, friend)  # already sent: a double click, a retry or a second tab
    try:
        with jobs.savepoint():
            refuse_to_send(friend, text)  # ブロック中, or a 定型文 placeholder with no value
            image = uploaded_image()
            if image is not None and text.strip():  # the image first, then its text, in that order
                message, words = queue_image_with_text(friend, store_image(friend.shop_id, image), text,
                                                       sender=current_user)
                message.client_key = client_key
                words.client_key = f"{client_key}:text" if client_key else None
            elif image is not None:
                message = queue_image(friend, store_image(friend.shop_id, image), sender=current_user)
                message.client_key = client_key
            else:
                message = queue_text(friend, text, sender=current_user)
                message.client_key = client_key
            read_state.mark_read(friend, current_user)  # a reply answers what was waiting
            db.session.flush()  # the client key's unique index speaks here, inside the savepoint
    except ImageRefused as exc:  # shown in the composer, the text kept; the browser drops the bad file
        return _tabs(customer, friend, status=422, composer_text=text, composer_error=exc.message,
                     client_key=client_key, image_refused=True)
    except SendRefused as exc:  # shown in the composer, the text kept (and the chosen image, by line_tab.js)
        return _tabs(customer, friend, status=422, composer_text=text, composer_error=str(exc), client_key=client_key)
    except IntegrityError:  # the same client key at the same moment: the other request sends it
        pass
    return _after_send(customer, friend)


def _after_send(customer, friend):
    if htmx:
        return _tabs(customer, friend)
    return redirect(_conversation_url(customer, friend))


@blueprint.post("/line/messages/<int:message_id>/resend")
def resend_message(message_id):
    """再送: staff push a message whose reply LINE may or may not have delivered (送信状況を確認できません)."""
    message = get_for_shop_or_404(LineMessage, message_id)
    if not current_user.may_send_line_directly:
        abort(403)
    try:
        resend(message)
    except NotResendable:
        abort(409)
    customer, friend = conversation_of(friend_id=message.friend_id)
    return _after_send(customer, friend)


@blueprint.post("/customers/<int:customer_id>/line/notify-later")
@blueprint.post("/line/friends/<int:friend_id>/notify-later")
def notify_later(customer_id=None, friend_id=None):
    """後で通知: keep the conversation unread (optionally with a time to be reminded)."""
    customer, friend = conversation_of(customer_id, friend_id)
    remind_at = None
    if request.form.get("remind_at"):
        # <input type="datetime-local"> sends "2026-11-22T09:00", in the shop's timezone.
        day, _sep, clock = request.form["remind_at"].partition("T")
        try:
            remind_at = local_to_utc(day, clock, current_user.shop.timezone)
        except ScheduleError:
            abort(400)
    read_state.notify_later(friend, current_user, remind_at)
    if htmx:
        # Only the notice changes: what is being typed in the composer stays as it is.
        response = make_response(render_template("line_tab/_notice.html", friend=friend))
        response.headers["HX-Trigger"] = "unread-changed"
        return response
    return redirect(url_for("line_tab.inbox"))


@blueprint.get("/line/unread")
def unread():
    """The unread conversations, oldest first (where the yellow bar leads)."""
    rows = shop_inbox.unread_conversations(current_user.shop_id, assignee_id=only_mine(current_user))
    return render_template("line_tab/unread.html", rows=rows)


@blueprint.get("/line/unread-bar")
def unread_bar():
    """The yellow bar alone, for polling from every page."""
    viewing = request.args.get("viewing", type=int)  # the conversation on screen: being read, not announced
    response = make_response(render_template("line_tab/_yellow_bar.html", unread=line_unread(viewing)))
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/line/preferences/send-key")
def send_key():
    """Each staff member chooses Enter or Alt+Enter to send (seed 000)."""
    choice = request.form.get("send_key")
    if choice not in ("enter", "alt_enter"):
        abort(400)
    current_user.send_key = choice
    return redirect(request.referrer or url_for("line_tab.inbox"))


def _export_response(kind, shop, friend_ids, stem):
    from flask import Response, stream_with_context


    if kind == "csv":
        response = Response(stream_with_context(export.csv_chunks(shop, friend_ids)), mimetype="text/csv")
        filename = f"{stem}.csv"
    else:
        response = Response(export.xlsx_bytes(shop, friend_ids),
                            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        filename = f"{stem}.xlsx"
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response


def _exports_are_owner_only():
    # One rule for every export: a customer's history is as private as the shop's.
    if not current_user.is_owner:
        abort(403)


@blueprint.get("/customers/<int:customer_id>/line/export.<any(csv, xlsx):kind>")
def export_customer(customer_id, kind):
    """One customer's whole LINE history, unread messages included (owner only)."""
    customer, friend = conversation_of(customer_id)  # another shop's customer: 404 first, as everywhere
    _exports_are_owner_only()
    return _export_response(kind, current_user.shop, [friend.id], f"line-history-customer-{customer.id}")


@blueprint.get("/line/friends/<int:friend_id>/export.<any(csv, xlsx):kind>")
def export_friend(friend_id, kind):
    """One friend's whole LINE history, linked to a customer or not (owner only)."""
    _customer, friend = conversation_of(friend_id=friend_id)
    _exports_are_owner_only()
    return _export_response(kind, current_user.shop, [friend.id], f"line-history-friend-{friend.id}")


@blueprint.get("/line/export.<any(csv, xlsx):kind>")
def export_shop(kind):
    """The whole shop's LINE history (owner only)."""
    _exports_are_owner_only()
    return _export_response(kind, current_user.shop, None, f"line-history-shop-{current_user.shop_id}")
