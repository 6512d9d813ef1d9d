"""Reading the composer's fields: the segment editor (groups of conditions), the schedule, the coupon.

Field names: ``op`` (between groups), ``g<i>-op`` (inside group i),
``g<i>-c<j>-kind`` and the kind's parameters (``-tag_id``, ``-days``,
``-service_id``, ``-month``, ``-since``, ``-until``).  Editing buttons post
``edit`` = add_condition:<i>, remove_condition:<i>:<j>, add_group, remove_group:<i>.
"""
from collections.abc import Mapping
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _

from crm.broadcasts.segments import MAX_CONDITIONS, MAX_GROUPS, SegmentError, empty_definition

PARAMS = ("tag_id", "days", "service_id", "month", "since", "until")


def definition_from(form: Mapping[str, str]) -> dict:
    """The segment as the form has it (not yet checked: segments.clean does that)."""
    groups = []
    for g in range(MAX_GROUPS):
        if f"g{g}-op" not in form:
            continue
        conditions = []
        for c in range(MAX_CONDITIONS):
            kind = form.get(f"g{g}-c{c}-kind")
            if kind is None:
                continue
            condition = {"kind": kind}
            for name in PARAMS:
                value = form.get(f"g{g}-c{c}-{name}")
                if value:  # neither missing nor left empty
                    condition[name] = value
            conditions.append(condition)
        groups.append({"op": form.get(f"g{g}-op", "and"), "conditions": conditions})
    return {"op": form.get("op", "and"), "groups": groups or empty_definition()["groups"]}


def apply_edit(definition: dict, edit: str) -> dict:
    """Add or remove a condition or a group, as the editor's button asked."""
    parts = (edit or "").split(":")
    groups = definition["groups"]
    try:
        if parts[0] == "add_condition" and len(groups[int(parts[1])]["conditions"]) < MAX_CONDITIONS:
            groups[int(parts[1])]["conditions"].append({"kind": "tag"})
        elif parts[0] == "remove_condition":
            del groups[int(parts[1])]["conditions"][int(parts[2])]
        elif parts[0] == "add_group" and len(groups) < MAX_GROUPS:
            groups.append({"op": "and", "conditions": [{"kind": "tag"}]})
        elif parts[0] == "remove_group" and len(groups) > 1:
            del groups[int(parts[1])]
    except (IndexError, ValueError):
        pass  # a stale button: the editor is shown as it is
    return definition


def scheduled_at_from(form: Mapping[str, str], tz_name: str) -> datetime | None:
    """送信予約's date and time (the shop's timezone) as UTC; None for 今すぐ送信."""
    if form.get("when") != "schedule":
        return None
    try:
        day = date.fromisoformat((form.get("scheduled_date") or "").strip())
        clock = time.fromisoformat((form.get("scheduled_time") or "").strip())
    except ValueError:
        raise SegmentError(_("送信日時を正しく入力してください。"), field="scheduled_date") from None
    try:
        zone = ZoneInfo(tz_name or "Asia/Tokyo")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("Asia/Tokyo")
    return datetime.combine(day, clock.replace(tzinfo=None), tzinfo=zone).astimezone(timezone.utc)
