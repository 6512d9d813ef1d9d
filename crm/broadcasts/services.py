"""Writing, approving, scheduling and cancelling broadcasts; progress and results.

The owner sends (now or as 送信予約) directly; a staff member's broadcast waits
for the owner's approval (承認待ち), who approves it (it then goes as the staff
member chose: now or at its time) or sends it back (差し戻し) with a comment.
Every send is checked against the quota first and refused with the shortfall.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from crm import jobs
from crm.broadcasts import compose, prepare, quota, segments
from crm.broadcasts.delivery import sweep_batches
from crm.broadcasts.models import (
    EDITABLE,
    Broadcast,
    BroadcastBatch,
    BroadcastRecipient,
    BroadcastStatus,
    RecipientStatus,
    Segment,
)
from crm.database import utcnow
from crm.errors import UserError
from crm.extensions import db
from crm.line_platform.outgoing import StoredImage
from crm.line_platform.uploads import KEEP
from crm.shops.models import Shop
from crm.staff.models import Staff

MAX_AHEAD = timedelta(days=366)


class BroadcastError(UserError, ValueError):
    """The broadcast cannot be changed as asked; the text says why."""


class NotEditable(BroadcastError):
    status = 409
    default_message = None

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _("配信が始まったため、この一斉配信は変更できません。"))


# -- segments -------------------------------------------------------------------------
def save_segment(shop_id: int, name: str, definition: dict) -> Segment:
    """Save (or overwrite by name) a segment of the shop."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 60:
        raise BroadcastError(_("セグメント名を1〜60文字で入力してください。"), field="segment_name")
    definition = segments.clean(definition, shop_id)
    segment = db.session.scalars(sa.select(Segment).where(Segment.shop_id == shop_id, Segment.name == name)).first()
    if segment is None:
        segment = Segment(shop_id=shop_id, name=name)
        db.session.add(segment)
    segment.definition = definition
    db.session.flush()
    return segment


def saved_segments(shop_id: int) -> list[Segment]:
    """The shop's saved segments by name."""
    return list(db.session.scalars(sa.select(Segment).where(Segment.shop_id == shop_id).order_by(Segment.name)).all())


# -- writing --------------------------------------------------------------------------
def save(shop: Shop, author: Staff, broadcast: Broadcast | None, title: str, definition: dict, text: str,
         coupon: dict | None, image: object = KEEP) -> Broadcast:
    """Create or update an editable broadcast (下書き) from the composer.

    ``image``: a StoredImage to attach, None to remove it, KEEP to leave it as it is.
    """
    definition = segments.clean(definition, shop.id)
    kept = (broadcast.image if broadcast is not None else None) if image is KEEP else image
    compose.check_text(text, coupon, kept if isinstance(kept, StoredImage) else None)
    if broadcast is None:
        broadcast = Broadcast(shop_id=shop.id, author_id=author.id, status=BroadcastStatus.DRAFT)
        db.session.add(broadcast)
    elif broadcast.status not in EDITABLE:
        raise NotEditable()
    broadcast.title = (title or "").strip()[:100] or _("一斉配信")
    broadcast.segment_definition, broadcast.text, broadcast.coupon = definition, text or "", coupon
    if image is not KEEP:
        broadcast.attach_image(image if isinstance(image, StoredImage) else None)
    db.session.flush()
    return broadcast


def check_time(scheduled_at: datetime | None, now: datetime | None = None) -> None:
    """A 送信予約 is in the future and within a year."""
    now = now or utcnow()
    if scheduled_at is None:
        return
    if scheduled_at <= now:
        raise BroadcastError(_("送信日時には、これから先の日時を指定してください。"), field="scheduled_date")
    if scheduled_at > now + MAX_AHEAD:
        raise BroadcastError(_("送信日時は1年以内で指定してください。"), field="scheduled_date")


def check_sendable(broadcast: Broadcast, shop: Shop) -> segments.Count:
    """Refuse an empty segment, and a send the month's quota cannot take (saying by how much)."""
    counted = segments.count(shop.id, broadcast.segment_definition, shop.timezone)
    if not counted.sendable:
        raise BroadcastError(_("配信できるお客様がいません（LINE連携済み・ブロックなし・配信停止なしのお客様が0人です）。"))
    quota.check(quota.fetch(shop.id, exclude_id=broadcast.id), counted.reachable)
    return counted


def _go(broadcast: Broadcast, scheduled_at: datetime | None, approver: Staff | None) -> Broadcast:
    now = utcnow()
    broadcast.approved_by_id = approver.id if approver is not None else None
    broadcast.scheduled_at = scheduled_at
    if scheduled_at is not None and scheduled_at > now:
        broadcast.status = BroadcastStatus.SCHEDULED
        jobs.enqueue_at_after_commit(scheduled_at, prepare.release_due,
                                     job_id=f"crm-broadcast-release-{int(scheduled_at.timestamp())}")
    else:
        broadcast.status, broadcast.queued_at = BroadcastStatus.QUEUED, now
        jobs.enqueue_after_commit(prepare.prepare, broadcast.id)
    db.session.flush()
    return broadcast


def submit(broadcast: Broadcast, shop: Shop, staff: Staff, scheduled_at: datetime | None) -> Broadcast:
    """The owner sends or schedules; a staff member asks for the owner's approval."""
    if broadcast.status not in EDITABLE:
        raise NotEditable()
    check_time(scheduled_at)
    check_sendable(broadcast, shop)
    if not staff.is_owner:
        broadcast.status, broadcast.requested_at, broadcast.scheduled_at = BroadcastStatus.PENDING, utcnow(), scheduled_at
        broadcast.review_comment = None
        db.session.flush()
        return broadcast
    return _go(broadcast, scheduled_at, staff if broadcast.author_id != staff.id else None)


def approve(broadcast: Broadcast, shop: Shop, owner: Staff) -> Broadcast:
    """承認: a pending broadcast goes as its author chose (now, or at its time if still ahead)."""
    if broadcast.status != BroadcastStatus.PENDING:
        raise NotEditable(_("この一斉配信は承認待ちではありません。"))
    check_sendable(broadcast, shop)
    when = broadcast.scheduled_at if broadcast.scheduled_at and broadcast.scheduled_at > utcnow() else None
    return _go(broadcast, when, owner)


def send_back(broadcast: Broadcast, owner: Staff, comment: str) -> Broadcast:
    """差し戻し: back to its author with the owner's comment."""
    if broadcast.status != BroadcastStatus.PENDING:
        raise NotEditable(_("この一斉配信は承認待ちではありません。"))
    broadcast.status, broadcast.review_comment = BroadcastStatus.RETURNED, (comment or "").strip()[:1000]
    db.session.flush()
    return broadcast


def cancel(broadcast: Broadcast) -> Broadcast:
    """取り消し: before sending it never goes; while sending, no further batch starts (a guarded UPDATE)."""
    now = utcnow()
    changed = db.session.execute(
        sa.update(Broadcast).where(Broadcast.id == broadcast.id,
                                   Broadcast.status.in_([*EDITABLE, BroadcastStatus.QUEUED, BroadcastStatus.SENDING]))
        .values(status=BroadcastStatus.CANCELLED, cancelled_at=now, updated_at=now)
        # An UPDATE's Result is a CursorResult; Session.execute is typed as returning the base Result.
        .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    db.session.refresh(broadcast)
    if not changed:
        raise NotEditable(_("この一斉配信は取り消せません。"))
    return broadcast


# -- reading ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int
    blocked: int
    pending: int
    cancelled: int

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.blocked + self.cancelled

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.done / self.total)


def progress(broadcast: Broadcast) -> Progress:
    """Recipients by status (one GROUP BY on an index)."""
    counts: dict[str, int] = dict(db.session.execute(
        sa.select(BroadcastRecipient.status, sa.func.count()).where(BroadcastRecipient.broadcast_id == broadcast.id)
        .group_by(BroadcastRecipient.status)).tuples().all())

    def get(s: RecipientStatus) -> int:
        return int(counts.get(s, 0) or counts.get(s.value, 0))

    return Progress(sum(int(v) for v in counts.values()), get(RecipientStatus.SENT), get(RecipientStatus.FAILED),
                    get(RecipientStatus.BLOCKED), get(RecipientStatus.PENDING), get(RecipientStatus.CANCELLED))


def results(shop_id: int) -> dict[int, dict]:
    """Sent, failed and blocked per broadcast of the shop, summed over its batches (for the list)."""
    rows = db.session.execute(
        sa.select(BroadcastBatch.broadcast_id, sa.func.sum(BroadcastBatch.sent_count),
                  sa.func.sum(BroadcastBatch.failed_count), sa.func.sum(BroadcastBatch.blocked_count))
        .where(BroadcastBatch.shop_id == shop_id).group_by(BroadcastBatch.broadcast_id)).all()
    return {bid: {"sent": int(s or 0), "failed": int(f or 0), "blocked": int(b or 0)} for bid, s, f, b in rows}


def approver(broadcast: Broadcast) -> Staff | None:
    """Who approved the broadcast (None: nobody, or no longer on the staff)."""
    return db.session.get(Staff, broadcast.approved_by_id) if broadcast.approved_by_id is not None else None


def for_shop(shop_id: int, limit: int = 100) -> list[Broadcast]:
    """The shop's broadcasts, newest first."""
    return list(db.session.scalars(sa.select(Broadcast).where(Broadcast.shop_id == shop_id)
                                   .options(sa.orm.selectinload(Broadcast.author))
                                   .order_by(Broadcast.created_at.desc(), Broadcast.id.desc()).limit(limit)).all())


def pending_count(shop_id: int) -> int:
    """Broadcasts waiting for the owner's approval."""
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Broadcast).where(
        Broadcast.shop_id == shop_id, Broadcast.status == BroadcastStatus.PENDING)) or 0)


# -- the tick ----------------------------------------------------------------------------
def tick(now: datetime | None = None) -> dict:
    """Release due 送信予約, prepare queued broadcasts whose job was lost, re-enqueue stuck batches."""
    now = now or utcnow()
    swept = sweep_batches(now)
    requeued = prepare.sweep_queued(now)
    released = prepare.release_due(now)
    return {"broadcasts_released": released, "broadcasts_requeued": requeued, "batches_resent": swept}
