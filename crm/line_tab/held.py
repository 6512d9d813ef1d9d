"""保留: scheduled messages of a shop that lost the LINE tab wait, never sent, until an upgrade releases them."""
import sqlalchemy as sa
from flask_babel import gettext as _

from crm.conversations.models import Direction, LineMessage, SendStatus
from crm.database import utcnow
from crm.extensions import db
from crm.jobs import enqueue_after_commit
from crm.line_platform.sending import deliver
from crm.shops.models import Shop
from crm.shops.plans import PremiumRequired, line_tab_available, line_tab_clause


def hold_scheduled(shop_ids):
    """SCHEDULED -> HELD for these shops. Returns how many."""
    if not shop_ids:
        return 0
    result = db.session.execute(
        sa.update(LineMessage)
        .where(LineMessage.shop_id.in_(shop_ids), LineMessage.status == SendStatus.SCHEDULED)
        .values(status=SendStatus.HELD, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def hold_lapsed(now=None):
    """Hold the scheduled messages of every shop that lost the LINE tab without a command (a trial ended)."""
    now = now or utcnow()
    lapsed = sa.select(Shop.id).where(sa.not_(line_tab_clause(now)))
    return hold_scheduled(db.session.scalars(
        sa.select(LineMessage.shop_id).distinct().where(
            LineMessage.status == SendStatus.SCHEDULED, LineMessage.shop_id.in_(lapsed)
        )
    ).all())


def held_messages(shop_id):
    """The shop's held (保留) messages, soonest first."""
    return db.session.scalars(
        sa.select(LineMessage)
        .where(LineMessage.shop_id == shop_id, LineMessage.status == SendStatus.HELD,
               LineMessage.direction == Direction.OUTGOING)
        .order_by(LineMessage.scheduled_at, LineMessage.id)
    ).all()


def _held(shop_id, message_ids):
    stmt = sa.select(LineMessage).where(LineMessage.shop_id == shop_id, LineMessage.status == SendStatus.HELD)
    if message_ids is not None:
        stmt = stmt.where(LineMessage.id.in_(message_ids))
    return db.session.scalars(stmt.with_for_update() if db.session.get_bind().dialect.name == "postgresql"
                              else stmt).all()


def release_held(shop, message_ids=None, now=None):
    """After an upgrade: held messages go back to SCHEDULED, or QUEUED (sent now) when their time passed."""
    now = now or utcnow()
    if not line_tab_available(shop, now):
        raise PremiumRequired(_("保留中のメッセージは、プレミアムプランにアップグレードすると送信できます。"))
    released = []
    for message in _held(shop.id, message_ids):
        if message.scheduled_at is not None and message.scheduled_at > now:
            message.status = SendStatus.SCHEDULED
        else:
            message.status = SendStatus.QUEUED
            message.sent_at = now
            enqueue_after_commit(deliver, message.id)
        released.append(message)
    db.session.flush()
    return released


def cancel_held(shop, message_ids=None):
    """Held messages the owner no longer wants: CANCELLED, never sent."""
    cancelled = _held(shop.id, message_ids)
    for message in cancelled:
        message.status = SendStatus.CANCELLED
    db.session.flush()
    return cancelled
