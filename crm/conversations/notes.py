"""ノート: internal notes in a conversation, for staff only.

A note is a LineMessage with direction NOTE (``sender_id`` is its author), so it
takes its place in the conversation's keyset pages and in polling by the same
(sent_at, id) order as every message.  It has no send status and no retry key:
the send pipeline claims only OUTGOING rows, so nothing of a note ever reaches
LINE; unread counts count INCOMING rows only.
"""
from flask_babel import gettext as _

from crm.conversations.models import Direction, LineFriend, LineMessage
from crm.database import utcnow
from crm.errors import UserError
from crm.extensions import db
from crm.staff.models import Staff

MAX_NOTE_LENGTH = 2000


class NoteRefused(UserError, ValueError):
    """The note cannot be kept as written; the text says why."""


def add_note(friend: LineFriend, author: Staff, text: str) -> LineMessage:
    """Keep a note from a staff member (owner or staff) in the friend's conversation."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise NoteRefused(_("ノートを入力してください。"), field="note")
    if len(text) > MAX_NOTE_LENGTH:
        raise NoteRefused(_("ノートが長すぎます（%(limit)d文字まで）。", limit=MAX_NOTE_LENGTH), field="note")
    note = LineMessage(shop_id=friend.shop_id, friend_id=friend.id, direction=Direction.NOTE, message_type="note",
                       text=text, payload={}, sender_id=author.id, sent_at=utcnow())
    db.session.add(note)
    db.session.flush()
    return note
