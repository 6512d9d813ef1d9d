"""Segments: conditions on the ledger, combined with AND/OR in one level of groups, as one SQL query.

A definition is plain JSON (stored on Segment and copied onto Broadcast)::

    {"op": "and", "groups": [{"op": "or", "conditions": [{"kind": "tag", "tag_id": 3}, ...]}, ...]}

Each condition is an EXISTS subquery or a column test on customers, so a count
over 100,000 customers is one statement the database plans (never a loop in
Python).  A visit is a booking that is not cancelled and started in the past.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.bookings.models import Booking, BookingStatus, Service
from crm.conversations.models import LineFriend
from crm.customers.models import Customer, CustomerTag, Tag
from crm.database import utcnow
from crm.errors import UserError
from crm.extensions import db

MAX_GROUPS = 5
MAX_CONDITIONS = 8
MAX_DAYS = 3650

KINDS = {
    "tag": _l("タグが付いている"),
    "no_tag": _l("タグが付いていない"),
    "visit_older": _l("最終来店がN日以上前"),
    "visit_newer": _l("N日以内に来店あり"),
    "upcoming": _l("次回予約あり"),
    "no_upcoming": _l("次回予約なし"),
    "service": _l("利用したメニュー"),
    "birthday_month": _l("誕生月"),
    "registered": _l("登録日"),
    "line_linked": _l("LINE連携済み"),
    "not_blocked": _l("ブロックされていない"),
}
NEEDS = {  # the parameters each kind takes
    "tag": ("tag_id",), "no_tag": ("tag_id",), "visit_older": ("days",), "visit_newer": ("days",),
    "service": ("service_id",), "birthday_month": ("month",), "registered": ("since", "until"),
}


class SegmentError(UserError, ValueError):
    """A condition cannot be used as written; the text says which and why."""


def empty_definition() -> dict:
    """A definition with one AND group and no conditions (everyone)."""
    return {"op": "and", "groups": [{"op": "and", "conditions": []}]}


def _int(value: Any, low: int, high: int, message: str, field: str) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise SegmentError(message, field=field) from None
    if not low <= number <= high:
        raise SegmentError(message, field=field)
    return number


def _date(value: Any, field: str) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SegmentError(_("日付を正しく入力してください。"), field=field) from None


def clean(definition: dict, shop_id: int) -> dict:
    """The definition checked and normalised (ids of this shop, numbers in range); raises SegmentError."""
    op = definition.get("op") if definition.get("op") in ("and", "or") else "and"
    groups = []
    raw_groups = definition.get("groups") or []
    if len(raw_groups) > MAX_GROUPS:
        raise SegmentError(_("グループは%(n)d個までです。", n=MAX_GROUPS))
    for g, group in enumerate(raw_groups):
        conditions = []
        raw = group.get("conditions") or []
        if len(raw) > MAX_CONDITIONS:
            raise SegmentError(_("条件は1グループ%(n)d個までです。", n=MAX_CONDITIONS))
        for c, condition in enumerate(raw):
            conditions.append(_clean_condition(condition, shop_id, f"g{g}-c{c}"))
        groups.append({"op": group.get("op") if group.get("op") in ("and", "or") else "and",
                       "conditions": conditions})
    return {"op": op, "groups": groups or empty_definition()["groups"]}


def _clean_condition(condition: dict, shop_id: int, field: str) -> dict:
    kind = condition.get("kind")
    if kind not in KINDS:
        raise SegmentError(_("条件の種類を選んでください。"), field=f"{field}-kind")
    out: dict[str, Any] = {"kind": kind}
    if "tag_id" in NEEDS.get(kind, ()):
        tag_id = _int(condition.get("tag_id"), 1, 2**31, _("タグを選んでください。"), f"{field}-tag_id")
        if db.session.scalar(sa.select(Tag.id).where(Tag.id == tag_id, Tag.shop_id == shop_id)) is None:
            raise SegmentError(_("タグを選んでください。"), field=f"{field}-tag_id")
        out["tag_id"] = tag_id
    if "service_id" in NEEDS.get(kind, ()):
        service_id = _int(condition.get("service_id"), 1, 2**31, _("メニューを選んでください。"), f"{field}-service_id")
        if db.session.scalar(sa.select(Service.id).where(Service.id == service_id,
                                                         Service.shop_id == shop_id)) is None:
            raise SegmentError(_("メニューを選んでください。"), field=f"{field}-service_id")
        out["service_id"] = service_id
    if "days" in NEEDS.get(kind, ()):
        out["days"] = _int(condition.get("days"), 1, MAX_DAYS,
                           _("日数は1〜%(n)dで入力してください。", n=MAX_DAYS), f"{field}-days")
    if "month" in NEEDS.get(kind, ()):
        out["month"] = _int(condition.get("month"), 1, 12, _("月を選んでください。"), f"{field}-month")
    if kind == "registered":
        since, until = _date(condition.get("since"), f"{field}-since"), _date(condition.get("until"), f"{field}-until")
        if since is None and until is None:
            raise SegmentError(_("登録日の範囲を入力してください。"), field=f"{field}-since")
        if since and until and since > until:
            raise SegmentError(_("終了日は開始日以降にしてください。"), field=f"{field}-until")
        out["since"], out["until"] = (since.isoformat() if since else ""), (until.isoformat() if until else "")
    return out


def _zone(tz_name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name or "Asia/Tokyo")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Tokyo")


def _visit(now: datetime) -> sa.ColumnElement:
    return sa.and_(Booking.shop_id == Customer.shop_id, Booking.customer_id == Customer.id,
                   Booking.status == BookingStatus.BOOKED, Booking.starts_at < now)


def _condition(condition: dict, now: datetime, zone: ZoneInfo) -> sa.ColumnElement:
    kind = condition["kind"]
    if kind in ("tag", "no_tag"):
        has = sa.exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag_id == condition["tag_id"])
        return has if kind == "tag" else ~has
    if kind == "visit_newer":
        since = now - timedelta(days=condition["days"])
        return sa.exists().where(_visit(now), Booking.starts_at >= since)
    if kind == "visit_older":
        since = now - timedelta(days=condition["days"])
        return sa.and_(sa.exists().where(_visit(now), Booking.starts_at < since),
                       ~sa.exists().where(_visit(now), Booking.starts_at >= since))
    if kind in ("upcoming", "no_upcoming"):
        has = sa.exists().where(Booking.shop_id == Customer.shop_id, Booking.customer_id == Customer.id,
                                Booking.status == BookingStatus.BOOKED, Booking.starts_at >= now)
        return has if kind == "upcoming" else ~has
    if kind == "service":
        return sa.exists().where(_visit(now), Booking.service_id == condition["service_id"])
    if kind == "birthday_month":
        return sa.extract("month", Customer.birthday) == condition["month"]
    if kind == "registered":
        parts = []
        if condition.get("since"):
            start = datetime.combine(date.fromisoformat(condition["since"]), time(0), tzinfo=zone)
            parts.append(Customer.created_at >= start)
        if condition.get("until"):
            end = datetime.combine(date.fromisoformat(condition["until"]) + timedelta(days=1), time(0), tzinfo=zone)
            parts.append(Customer.created_at < end)
        return sa.and_(*parts)
    # An alias: the count and the recipients' INSERT join line_friends themselves.
    friend = sa.orm.aliased(LineFriend)
    if kind == "line_linked":
        return sa.exists().where(friend.customer_id == Customer.id)
    if kind == "not_blocked":
        return sa.exists().where(friend.customer_id == Customer.id, friend.followed.is_(True))
    raise SegmentError(_("条件の種類を選んでください。"))


def where_clause(definition: dict, tz_name: str | None = None, now: datetime | None = None) -> sa.ColumnElement:
    """The definition (already cleaned) as one SQL condition on Customer."""
    now, zone = now or utcnow(), _zone(tz_name)
    groups = []
    for group in definition.get("groups", []):
        parts = [_condition(c, now, zone) for c in group.get("conditions", [])]
        if parts:
            groups.append(sa.or_(*parts) if group.get("op") == "or" else sa.and_(*parts))
    if not groups:
        return sa.true()
    return sa.or_(*groups) if definition.get("op") == "or" else sa.and_(*groups)


def customers_select(shop_id: int, definition: dict, tz_name: str | None = None,
                     now: datetime | None = None) -> sa.Select:
    """SELECT customers.id of the shop matching the definition."""
    return sa.select(Customer.id).where(Customer.shop_id == shop_id, where_clause(definition, tz_name, now))


@dataclass(frozen=True)
class Count:
    matched: int  # customers matching the conditions
    reachable: int  # of them: linked to LINE, not blocked, not 配信停止 (the broadcast's cost)
    blocked: int  # linked, not 配信停止, but the friend blocked the account
    opted_out: int  # linked, 配信停止

    @property
    def sendable(self) -> bool:
        return self.reachable > 0


def count(shop_id: int, definition: dict, tz_name: str | None = None, now: datetime | None = None) -> Count:
    """How many customers match, and how many a broadcast would reach: one query."""
    linked = LineFriend.id.is_not(None)
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case(
                (sa.and_(linked, LineFriend.followed.is_(True), Customer.broadcast_opt_out.is_(False)), 1),
                else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case(
                (sa.and_(linked, LineFriend.followed.is_(False), Customer.broadcast_opt_out.is_(False)), 1),
                else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((sa.and_(linked, Customer.broadcast_opt_out.is_(True)), 1),
                                                 else_=0)), 0),
        )
        .select_from(Customer)
        .outerjoin(LineFriend, LineFriend.customer_id == Customer.id)
        .where(Customer.shop_id == shop_id, where_clause(definition, tz_name, now))
    ).one()
    return Count(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def describe(definition: dict, shop_id: int) -> str:
    """A one-line human description of the conditions (for lists)."""
    tags = dict(db.session.execute(sa.select(Tag.id, Tag.name).where(Tag.shop_id == shop_id)).tuples().all())
    services = dict(db.session.execute(sa.select(Service.id, Service.name).where(Service.shop_id == shop_id)).tuples().all())
    joiner = {"and": _(" かつ "), "or": _(" または ")}
    groups = []
    for group in definition.get("groups", []):
        parts = []
        for c in group.get("conditions", []):
            label = str(KINDS.get(c["kind"], c["kind"]))
            if "tag_id" in c:
                label += f"「{tags.get(c['tag_id'], '?')}」"
            if "service_id" in c:
                label += f"「{services.get(c['service_id'], '?')}」"
            if "days" in c:
                label = label.replace("N", str(c["days"]))
            if "month" in c:
                label += _("%(m)d月", m=c["month"])
            if c["kind"] == "registered":
                label += f" {c.get('since') or ''}〜{c.get('until') or ''}"
            parts.append(label)
        if parts:
            groups.append("（" + joiner[group.get("op", "and")].join(parts) + "）" if len(parts) > 1 else parts[0])
    return joiner[definition.get("op", "and")].join(groups) or _("すべてのお客様")
