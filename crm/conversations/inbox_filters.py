"""The inbox's filters (未読, 要対応, 対応済み, 自分の担当, 迷惑メッセージ, a tag) as WHERE clauses on line_friends."""
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement
from werkzeug.datastructures import MultiDict

from crm.conversations.models import LineFriend
from crm.customers.models import CustomerTag

FILTERS = {
    "all": _l("すべて"),
    "unread": _l("未読"),
    "open": _l("要対応"),
    "done": _l("対応済み"),
    "mine": _l("自分の担当"),
    "spam": _l("迷惑メッセージ"),
}


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows: one of FILTERS, and optionally one tag of the shop."""

    name: str = "all"
    tag_id: int | None = None

    @classmethod
    def from_args(cls, args: MultiDict[str, str]) -> "InboxFilter":
        """From the query string (?filter=open&tag=3); unknown values mean no filter."""
        name = args.get("filter", "all")
        tag_id = args.get("tag", type=int)
        return cls(name if name in FILTERS else "all", tag_id)

    def clauses(self, shop_id: int, staff_id: int | None) -> list[ColumnElement[bool]]:
        """WHERE clauses for line_friends (迷惑メッセージ hidden unless it is the filter)."""
        where: list[ColumnElement[bool]] = [
            LineFriend.spam_at.is_not(None) if self.name == "spam" else LineFriend.spam_at.is_(None)]
        if self.name == "unread":
            where.append(LineFriend.unread_since.is_not(None))
        elif self.name in ("open", "done"):
            where.append(LineFriend.attention == self.name)
        elif self.name == "mine":
            where.append(LineFriend.assignee_id == staff_id)
        if self.tag_id is not None:
            where.append(LineFriend.customer_id.in_(
                sa.select(CustomerTag.customer_id).where(CustomerTag.shop_id == shop_id, CustomerTag.tag_id == self.tag_id)
            ))
        return where

    def args(self, **changes: object) -> dict[str, object]:
        """Query-string arguments of this filter with some changed (for the filter links)."""
        values = {"filter": self.name, "tag": self.tag_id} | changes
        return {k: v for k, v in values.items() if v not in (None, "all")}
