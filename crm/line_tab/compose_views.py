"""The composer's images, stickers and ノート (the text itself is sent by views.send).

Images come as the composer's ``image`` file (chosen, pasted or dropped); a bad
file is refused beside the composer before anything is stored, the text kept.
"""
from flask import abort, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from crm import jobs
from crm.conversations import read_state
from crm.conversations.notes import NoteRefused, add_note
from crm.errors import UserError
from crm.extensions import db, htmx
from crm.line_platform.outgoing import MAX_IMAGE_BYTES
from crm.line_platform.sending import queue_sticker
from crm.line_tab import blueprint, stickers
from crm.line_tab.conversation import conversation_of
from crm.line_tab.views import _after_send, _conversation_url, _tabs

UPLOAD_ENDPOINTS = {"line_tab.send", "line_tab.save_draft", "line_tab.schedule", "line_tab.update_draft"}


@blueprint.url_value_preprocessor
def _room_for_an_image(endpoint, values):
    # Before CSRFProtect reads the form: the composer may carry a 10 MB image (and its text).
    if endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = MAX_IMAGE_BYTES + 256 * 1024


@blueprint.get("/customers/<int:customer_id>/line/stickers")
@blueprint.get("/line/friends/<int:friend_id>/stickers")
def sticker_picker(customer_id=None, friend_id=None):
    """The sticker picker (loaded when opened): every sticker LINE lets bots send, as labelled tiles."""
    customer, friend = conversation_of(customer_id, friend_id)
    return render_template("line_tab/_sticker_picker.html", customer=customer, friend=friend,
                           packages=stickers.packages(),
                           source=stickers.catalog()["source"])


@blueprint.post("/customers/<int:customer_id>/line/stickers")
@blueprint.post("/line/friends/<int:friend_id>/stickers")
def send_sticker(customer_id=None, friend_id=None):
    """Send one sticker of LINE's list now (``sticker`` = "package:sticker")."""
    customer, friend = conversation_of(customer_id, friend_id)
    if not current_user.may_send_line_directly:
        abort(403)
    package_id, _sep, sticker_id = (request.form.get("sticker") or "").partition(":")
    client_key = (request.form.get("client_key") or "")[:64] or None
    try:
        with jobs.savepoint():
            sticker = stickers.checked(package_id, sticker_id)
            message = queue_sticker(friend, sticker.package_id, sticker.sticker_id, sender=current_user)
            message.client_key = f"{client_key}:sticker:{package_id}:{sticker_id}"[:64] if client_key else None
            read_state.mark_read(friend, current_user)
            db.session.flush()
    except UserError as exc:
        return _tabs(customer, friend, status=exc.status, composer_error=exc.message,
                     composer_text=request.form.get("text", ""), client_key=client_key)
    return _after_send(customer, friend)


@blueprint.post("/customers/<int:customer_id>/line/notes")
@blueprint.post("/line/friends/<int:friend_id>/notes")
def write_note(customer_id=None, friend_id=None):
    """ノート: an internal note in the conversation (owner and staff); never sent to LINE."""
    customer, friend = conversation_of(customer_id, friend_id)
    text = request.form.get("note", "")
    try:
        with jobs.savepoint():
            add_note(friend, current_user, text)
    except NoteRefused as exc:
        return _tabs(customer, friend, status=exc.status, note_error=exc.message, note_text=text)
    if htmx:
        return _tabs(customer, friend)
    return redirect(_conversation_url(customer, friend))


@blueprint.app_template_global("line_image_limit_bytes")
def _image_limit():
    return MAX_IMAGE_BYTES


@blueprint.app_template_global("line_sticker_of")
def _sticker_of(message):
    """(package id, sticker id, label) of a sticker message: an incoming one's keywords or 「スタンプ」."""
    payload = message.payload or {}
    if message.direction.value == "out":
        payload = (payload.get("messages") or [{}])[0]
    package_id, sticker_id = payload.get("packageId"), payload.get("stickerId")
    keywords = payload.get("keywords") or []
    if keywords:
        label = "・".join(str(k) for k in keywords[:3])
    elif message.direction.value == "out" and stickers.find(package_id, sticker_id):
        label = stickers.find(package_id, sticker_id).title
    else:
        label = _("スタンプ")
    return package_id, sticker_id, label
