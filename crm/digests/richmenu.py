"""The staff rich menu on the notification channel: the unread variant (yellow bar) while the shop has unread messages.

Linked per user (link_rich_menu_id_to_user), and only when the variant changes:
settings.rich_menu_variant remembers what each LINE user has.
"""
import logging

import sqlalchemy as sa
from linebot.v3.messaging import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from crm.conversations.models import LineFriend
from crm.database import utcnow
from crm.digests import line_notify
from crm.digests.models import NotificationSettings
from crm.extensions import db
from crm.shops.models import Shop
from crm.shops.plans import line_tab_clause
from crm.staff.models import Staff

log = logging.getLogger(__name__)


def desired_variants(now, shop_ids=None):
    """[(staff_id, line_user_id, current variant, wanted variant)] of connected staff."""
    # The yellow bar of the staff menu counts what the yellow bar in the app counts: no 迷惑メッセージ,
    # and only the staff member's own conversations when they chose 自分の担当のみ.
    has_unread = sa.exists().where(
        LineFriend.shop_id == Staff.shop_id, LineFriend.unread_since.is_not(None), LineFriend.spam_at.is_(None),
        sa.or_(Staff.line_only_mine.is_(False), LineFriend.assignee_id == Staff.id))
    wanted = sa.case((sa.and_(Staff.active.is_(True), line_tab_clause(now), has_unread), line_notify.UNREAD),
                     else_=line_notify.NORMAL)
    stmt = (
        sa.select(NotificationSettings.staff_id, NotificationSettings.line_user_id,
                  NotificationSettings.rich_menu_variant, wanted)
        .join(Staff, Staff.id == NotificationSettings.staff_id)
        .join(Shop, Shop.id == Staff.shop_id)
        .where(NotificationSettings.line_user_id.is_not(None))
    )
    if shop_ids is not None:
        # A LINE user may be connected to accounts of several shops: take all of theirs.
        users = sa.select(NotificationSettings.line_user_id).where(NotificationSettings.shop_id.in_(shop_ids))
        stmt = stmt.where(NotificationSettings.line_user_id.in_(users))
    return db.session.execute(stmt).all()


def sync_rich_menus(now=None, shop_ids=None):
    """Link each connected LINE user to the variant they need, when it changed. Returns the links made."""
    if not line_notify.configured():
        return 0
    now = now or utcnow()
    menus = line_notify.rich_menu_ids()
    if not {line_notify.NORMAL, line_notify.UNREAD} <= set(menus):
        return 0
    by_user = {}
    for staff_id, line_user_id, current, wanted in desired_variants(now, shop_ids):
        user = by_user.setdefault(line_user_id, {"staff": [], "current": set(), "wanted": line_notify.NORMAL})
        user["staff"].append(staff_id)
        user["current"].add(current)
        if wanted == line_notify.UNREAD:
            user["wanted"] = line_notify.UNREAD
    changes = {line_user_id: user for line_user_id, user in by_user.items() if user["current"] != {user["wanted"]}}
    if not changes:
        return 0
    db.session.commit()  # no transaction open while LINE is called
    linked = []
    with line_notify.apis() as api:
        for line_user_id, user in changes.items():
            try:
                api.messaging.link_rich_menu_id_to_user(line_user_id, menus[user["wanted"]])
                linked.append((user["staff"], user["wanted"]))
            except (ApiException, Urllib3Error, OSError) as exc:
                log.warning("linking the staff rich menu of %s failed: %s", line_user_id, exc)
    for staff_ids, variant in linked:
        db.session.execute(
            sa.update(NotificationSettings).where(NotificationSettings.staff_id.in_(staff_ids))
            .values(rich_menu_variant=variant).execution_options(synchronize_session=False)
        )
    db.session.flush()
    return len(linked)
