"""下書き保存 and approval: LINE drafts kept on the server, per customer and author.

A draft is open (editable) while it is a draft, waiting for approval or sent
back; at most one open draft per customer and author (``open_slot`` is 1 while
open and NULL after, under a unique constraint).  Every change goes through one
guarded UPDATE on ``version``: a save made from a stale copy changes nothing
and raises DraftConflict, so two people never silently overwrite each other.

A draft may carry one image (the storage keys of its original and preview, as
store_image kept them): approval sends the image first and the text, if any, as
a second message, exactly as the composer's 送信 does.
"""

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from crm.conversations.models import LineFriend
from crm.database import utcnow
from crm.errors import UserError
from crm.extensions import db
from crm.line_platform.outgoing import StoredImage, image_values
from crm.line_platform.sending import queue_image, queue_image_with_text, queue_text, validate_text
from crm.line_platform.uploads import KEEP
from crm.line_tab.models import OPEN_STATUSES, DraftStatus, LineDraft
from crm.line_tab.scheduling import cancel_scheduled, image_of, schedule_text

MAX_COMMENT_LENGTH = 1000


class DraftError(UserError, ValueError):
    """The draft cannot be changed as asked; the text says why, in the user's language."""


class DraftConflict(DraftError):
    """Someone else changed the draft since it was loaded."""

    status = 409

    def __init__(self, message=None):
        super().__init__(message or _("ほかの人がこの下書きを更新しました。最新の内容を確認してください。"))


# -- reading ------------------------------------------------------------------------
def open_draft(friend, author_id):
    """The author's open draft for this friend, or None."""
    return db.session.scalars(
        sa.select(LineDraft).where(LineDraft.friend_id == friend.id, LineDraft.shop_id == friend.shop_id,
                                   LineDraft.author_id == author_id, LineDraft.open_slot == 1)
        .execution_options(populate_existing=True)
    ).first()


def drafts_for_friend(friend):
    """Every open draft of this customer's conversation (any author), oldest first, authors loaded."""
    return db.session.scalars(
        sa.select(LineDraft)
        .options(sa.orm.selectinload(LineDraft.author), sa.orm.selectinload(LineDraft.reviewer))
        .where(LineDraft.friend_id == friend.id, LineDraft.shop_id == friend.shop_id, LineDraft.open_slot == 1)
        .order_by(LineDraft.created_at, LineDraft.id)
        .execution_options(populate_existing=True)
    ).all()


def pending_approvals(shop_id):
    """承認待ち across all customers of the shop, oldest request first, with friend, customer and author."""
    return db.session.scalars(
        sa.select(LineDraft)
        .options(
            sa.orm.selectinload(LineDraft.author),
            sa.orm.selectinload(LineDraft.friend).selectinload(LineFriend.customer),
        )
        .where(LineDraft.shop_id == shop_id, LineDraft.status == DraftStatus.PENDING)
        .order_by(LineDraft.requested_at, LineDraft.id)
        .execution_options(populate_existing=True)
    ).all()


def pending_approval_count(shop_id):
    """How many drafts wait for the owner's approval (for the 承認待ち nav link)."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(LineDraft)
        .where(LineDraft.shop_id == shop_id, LineDraft.status == DraftStatus.PENDING)
    ) or 0


def get_draft(shop_id, draft_id):
    return db.session.scalars(
        sa.select(LineDraft).where(LineDraft.id == draft_id, LineDraft.shop_id == shop_id)
        .execution_options(populate_existing=True)
    ).first()


# -- permissions ----------------------------------------------------------------------
def may_edit(draft, staff):
    """The author edits their draft; the owner edits any (to correct it before approving)."""
    return draft.is_open and (staff.is_owner or draft.author_id == staff.id)


def may_review(staff):
    return staff.is_owner


# -- changing -------------------------------------------------------------------------
def _clean_text(text, allow_empty=False):
    text = (text or "").replace("\r\n", "\n")
    if not allow_empty:
        validate_text(text)
    elif text.strip():
        validate_text(text)  # still no longer than LINE accepts
    return text


def _guarded_update(draft, expected_version, **values):
    """UPDATE ... WHERE id = :id AND version = :v AND open; no row: DraftConflict."""
    try:
        expected_version = int(expected_version)
    except (TypeError, ValueError):
        raise DraftConflict() from None
    values.setdefault("updated_at", utcnow())
    result = db.session.execute(
        sa.update(LineDraft)
        .where(LineDraft.id == draft.id, LineDraft.version == expected_version, LineDraft.open_slot == 1)
        .values(version=LineDraft.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.expire(draft)
        raise DraftConflict()
    db.session.refresh(draft)
    return draft


def save_draft(friend, author, text, expected_version=0, request_approval=False, image=KEEP):
    """Save the author's draft for this friend from the composer.

    ``expected_version`` is the version of the author's open draft the page
    showed (0: none).  A new draft is created only when none exists; a draft
    created or changed elsewhere in between raises DraftConflict.  ``image``:
    a StoredImage to attach, None to remove it, KEEP to leave it.
    """
    try:
        expected_version = int(expected_version or 0)
    except (TypeError, ValueError):
        expected_version = -1
    existing = open_draft(friend, author.id)
    if existing is None:
        text = _clean_text(text, allow_empty=not request_approval or isinstance(image, StoredImage))
        if expected_version != 0:
            raise DraftConflict()  # the draft the page showed was approved or deleted meanwhile
        draft = LineDraft(shop_id=friend.shop_id, friend_id=friend.id, author_id=author.id, text=text,
                          version=1, status=DraftStatus.DRAFT, open_slot=1, updated_by_id=author.id)
        draft.attach_image(image if isinstance(image, StoredImage) else None)
        try:
            with db.session.begin_nested():
                db.session.add(draft)
        except IntegrityError:
            raise DraftConflict() from None  # another tab or device created it at the same moment
        if request_approval:
            return submit_for_approval(draft, author, draft.version)
        return draft
    return update_draft(existing, author, text, expected_version, request_approval=request_approval, image=image)


def update_draft(draft, editor, text, expected_version, request_approval=False, image=KEEP):
    """Edit an open draft (its author or the owner), optionally asking for approval at once.

    ``image``: a StoredImage to attach (replacing any), None to remove it, KEEP to leave it.
    """
    if not may_edit(draft, editor):
        raise DraftError(_("この下書きは編集できません。"))
    kept = draft.image if image is KEEP else image
    text = _clean_text(text, allow_empty=not request_approval or kept is not None)
    values = dict(text=text, updated_by_id=editor.id)
    if image is not KEEP:
        values.update(image_values(image))
    if request_approval:
        values.update(status=DraftStatus.PENDING, requested_at=utcnow())
    return _guarded_update(draft, expected_version, **values)


def submit_for_approval(draft, editor, expected_version, text=None):
    """承認を依頼: the draft goes to the owner's 承認待ち list."""
    if not may_edit(draft, editor):
        raise DraftError(_("この下書きは編集できません。"))
    text = _clean_text(draft.text if text is None else text, allow_empty=draft.image is not None)
    return _guarded_update(draft, expected_version, text=text, status=DraftStatus.PENDING,
                           requested_at=utcnow(), updated_by_id=editor.id)


def return_draft(draft, reviewer, expected_version, comment, text=None):
    """差し戻し: back to the author with a comment."""
    if not may_review(reviewer):
        raise DraftError(_("承認できるのはオーナーだけです。"))
    comment = (comment or "").strip()
    if not comment:
        raise DraftError(_("差し戻しの理由を入力してください。"))
    if len(comment) > MAX_COMMENT_LENGTH:
        raise DraftError(_("コメントが長すぎます（%(limit)d文字まで）。", limit=MAX_COMMENT_LENGTH))
    values = dict(status=DraftStatus.RETURNED, review_comment=comment, reviewer_id=reviewer.id,
                  reviewed_at=utcnow(), updated_by_id=reviewer.id)
    if text is not None:
        values["text"] = _clean_text(text, allow_empty=True)
    return _guarded_update(draft, expected_version, **values)


def delete_draft(draft, editor, expected_version):
    """Discard an open draft (author or owner), with the same version check."""
    if not may_edit(draft, editor):
        raise DraftError(_("この下書きは編集できません。"))
    result = db.session.execute(
        sa.delete(LineDraft).where(LineDraft.id == draft.id, LineDraft.version == _int(expected_version))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.expire(draft)
        raise DraftConflict()
    db.session.expunge(draft)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def approve(draft, reviewer, expected_version, text=None, scheduled_at=None):
    """承認して送信 / 承認して予約: the draft becomes a message from its author, approved by the owner.

    A staff member who may send directly sends their own draft the same way (no approver).

    The message's client key is the draft's, so one draft gives one message
    however often the button is pressed.
    """
    own = draft.author_id == reviewer.id
    if not (may_review(reviewer) or (own and reviewer.may_send_line_directly)):
        raise DraftError(_("承認できるのはオーナーだけです。"))
    if draft.status not in OPEN_STATUSES:
        raise DraftConflict()
    image = draft.image
    text = _clean_text(draft.text if text is None else text, allow_empty=image is not None)
    friend = db.session.get(LineFriend, draft.friend_id)
    author_id = draft.author_id
    approved_by_id = None if own else reviewer.id  # sending one's own draft needs no approval
    _guarded_update(draft, expected_version, text=text, status=DraftStatus.APPROVED, open_slot=None,
                    reviewer_id=reviewer.id, reviewed_at=utcnow(), updated_by_id=reviewer.id)
    client_key = f"draft-{draft.id}"
    if scheduled_at is not None:
        message = schedule_text(friend, text, sender_id=author_id, scheduled_at=scheduled_at,
                                approved_by_id=approved_by_id, client_key=client_key, image=image)
    else:
        # As the composer sends them: the image first, then its text (if any), delivered in that order.
        second = None
        if image is not None and text.strip():
            message, second = queue_image_with_text(friend, image, text)
        else:
            message = queue_image(friend, image) if image is not None else queue_text(friend, text)
        message.sender_id, message.approved_by_id, message.client_key = author_id, approved_by_id, client_key
        if second is not None:
            second.sender_id, second.approved_by_id, second.client_key = author_id, approved_by_id, f"{client_key}:text"
        db.session.flush()
    draft.message_id = message.id
    db.session.flush()
    return message


def return_to_approval(message, editor, text):
    """An approved 送信予約 edited by anyone but its approver goes back to 承認待ち as the editor's text.

    The approval was given to the old text, so the scheduled message is cancelled
    (a guarded UPDATE: not once its sending started) and its draft reopens as
    pending, with the editor as its author: the owner approves the new text,
    and the message that follows shows who wrote it.
    """
    image = image_of(message)
    text = _clean_text(text, allow_empty=image is not None)
    cancel_scheduled(message)
    draft = db.session.scalars(sa.select(LineDraft).where(LineDraft.message_id == message.id)).first()
    if draft is None:  # approved before drafts kept their message: start the request afresh
        draft = LineDraft(shop_id=message.shop_id, friend_id=message.friend_id, version=0)
        db.session.add(draft)
    draft.author_id = editor.id
    draft.updated_by_id = editor.id
    draft.text = text
    draft.image_key, draft.image_preview_key = (image.key, image.preview_key) if image else (None, None)
    draft.image_content_type = message.media_content_type if image else None
    draft.status = DraftStatus.PENDING
    draft.open_slot = 1
    draft.requested_at = utcnow()
    draft.reviewer_id = draft.reviewed_at = draft.message_id = None
    draft.version = (draft.version or 0) + 1
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise DraftError(_("ご自分の下書きがすでにあります。先にそれを送信するか削除してください。")) from None
    return draft
