"""The shop's 送信予約 list and the sends that failed, for the 送信予約 page and its badge."""
import sqlalchemy as sa

from crm.conversations.models import Direction, LineFriend, LineMessage, SendStatus
from crm.extensions import db
from crm.line_tab.models import LineFailureAck
from crm.line_tab.scheduling import EDITABLE


def _with_people(stmt):
    return stmt.options(
        sa.orm.selectinload(LineMessage.sender),
        sa.orm.selectinload(LineMessage.approved_by),
        sa.orm.selectinload(LineMessage.friend).selectinload(LineFriend.customer),
    )


def scheduled_for_shop(shop_id, limit=500):
    """Every message waiting for its time (予約中 and 保留), soonest first."""
    return db.session.scalars(
        _with_people(sa.select(LineMessage))
        .where(LineMessage.shop_id == shop_id, LineMessage.status.in_(EDITABLE))
        .order_by(LineMessage.scheduled_at, LineMessage.id)
        .limit(limit)
    ).all()


def _unacked_failures(shop_id):
    acked = sa.select(LineFailureAck.message_id).where(LineFailureAck.message_id == LineMessage.id)
    return (LineMessage.shop_id == shop_id, LineMessage.direction == Direction.OUTGOING,
            LineMessage.status == SendStatus.FAILED, ~acked.exists())


def failed_sends(shop_id, limit=200):
    """Outgoing messages that could not be sent and the owner has not acknowledged, newest first."""
    return db.session.scalars(
        _with_people(sa.select(LineMessage)).where(*_unacked_failures(shop_id))
        .order_by(LineMessage.updated_at.desc(), LineMessage.id.desc()).limit(limit)
    ).all()


def failed_send_count(shop_id):
    """How many failures the owner has not seen yet (for a badge beside the 送信予約 link)."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(LineMessage).where(*_unacked_failures(shop_id))
    ) or 0


def acknowledge_failure(message, staff):
    if db.session.get(LineFailureAck, message.id) is None:
        db.session.add(LineFailureAck(message_id=message.id, shop_id=message.shop_id, acked_by_id=staff.id))
        db.session.flush()
