"""Saving the automatic-response settings, rules, hours and 休業日 (services flush, never commit)."""
import random
from datetime import date, time

import sqlalchemy as sa
from flask_babel import gettext as _

from crm.autoreply import hours, matching
from crm.autoreply.messages import (
    DEFAULT_AWAY,
    DEFAULT_GREETING,
    DEFAULT_HOLIDAY,
    DEFAULT_REFOLLOW,
    DEFAULT_REMINDER,
    AutoReplyError,
    check_bubbles,
    check_image_url,
    check_text,
)
from crm.autoreply.models import (
    DEFAULT_AWAY_WINDOW_HOURS,
    DEFAULT_REMINDER_TIME,
    MAX_RULES,
    AutoReplyClosure,
    AutoReplyHours,
    AutoReplySettings,
    HoursSource,
    KeywordRule,
    MatchType,
    ReplyKind,
)
from crm.extensions import db

WEEKDAYS = ("月", "火", "水", "木", "金", "土", "日")


def default_settings(shop_id: int) -> AutoReplySettings:
    """A shop's settings before it saved any (not added to the session)."""
    return AutoReplySettings(
        shop_id=shop_id, greeting_enabled=False,
        greeting_bubbles=[{"kind": "text", "text": str(DEFAULT_GREETING)}, {"kind": "link_card"}],
        refollow_text=str(DEFAULT_REFOLLOW), away_enabled=False, hours_source=HoursSource.BOOKING,
        away_text=str(DEFAULT_AWAY), holiday_text=str(DEFAULT_HOLIDAY), away_window_hours=DEFAULT_AWAY_WINDOW_HOURS,
        push_when_late=False, rules_version=0, reminder_enabled=True, reminder_time=DEFAULT_REMINDER_TIME,
        reminder_text=str(DEFAULT_REMINDER),
    )


def settings_for(shop_id: int, for_update: bool = False) -> AutoReplySettings:
    """The shop's settings row; with ``for_update`` it is created (flushed) when missing."""
    row = db.session.scalars(sa.select(AutoReplySettings).where(AutoReplySettings.shop_id == shop_id)).first()
    if row is None:
        row = default_settings(shop_id)
        if for_update:
            db.session.add(row)
            db.session.flush()
    return row


def save_greeting(shop_id: int, enabled: bool, bubbles: list[dict], refollow_text: str) -> AutoReplySettings:
    """あいさつメッセージ: up to 5 bubbles, and the text a friend who comes back after a block gets."""
    bubbles = check_bubbles(bubbles)
    if enabled and not bubbles:
        raise AutoReplyError(_("吹き出しを1つ以上設定してください。"), field="bubble_1_kind")
    refollow_text = check_text(refollow_text, "refollow_text", required=False)
    row = settings_for(shop_id, for_update=True)
    row.greeting_enabled, row.greeting_bubbles, row.refollow_text = enabled, bubbles, refollow_text
    db.session.flush()
    return row


def save_away(shop_id: int, enabled: bool, source: HoursSource, away_text: str, holiday_text: str,
              window_hours: int, push_when_late: bool) -> AutoReplySettings:
    """応答時間 and the 時間外 / 休業日 texts."""
    away_text = check_text(away_text, "away_text", required=enabled)
    holiday_text = check_text(holiday_text, "holiday_text", required=False)
    if window_hours is None or not 0 <= window_hours <= 24 * 7:
        raise AutoReplyError(_("0〜168時間で入力してください。"), field="away_window_hours")
    row = settings_for(shop_id, for_update=True)
    row.away_enabled, row.hours_source = enabled, HoursSource(source)
    row.away_text, row.holiday_text = away_text, holiday_text
    row.away_window_hours, row.push_when_late = window_hours, push_when_late
    db.session.flush()
    return row


def save_hours(shop_id: int, ranges: dict[int, list[tuple[str, str]]]) -> None:
    """The own weekly 応答時間: several ranges a weekday; overlapping or backward ranges are refused."""
    parsed: dict[int, list[tuple[int, int]]] = {}
    for weekday, pairs in ranges.items():
        day = []
        for number, (opens, closes) in enumerate(pairs, start=1):
            if not (opens or "").strip() and not (closes or "").strip():
                continue
            field = f"hours_{weekday}_{number}_opens"
            start, end = hours.parse_clock(opens), hours.parse_clock(closes)
            if start is None or end is None:
                raise AutoReplyError(_("%(day)s曜日: 時刻は 9:00 のように入力してください。", day=WEEKDAYS[weekday]),
                                     field=field)
            if end <= start:
                raise AutoReplyError(_("%(day)s曜日: 終了は開始より後にしてください。", day=WEEKDAYS[weekday]), field=field)
            day.append((start, end))
        if hours.overlaps(day):
            raise AutoReplyError(_("%(day)s曜日: 時間帯が重なっています。", day=WEEKDAYS[weekday]),
                                 field=f"hours_{weekday}_1_opens")
        parsed[weekday] = day
    db.session.execute(sa.delete(AutoReplyHours).where(AutoReplyHours.shop_id == shop_id))
    for weekday, day in parsed.items():
        for start, end in day:
            db.session.add(AutoReplyHours(shop_id=shop_id, weekday=weekday, opens_minute=start, closes_minute=end))
    db.session.flush()


def add_closure(shop_id: int, first_day: date | None, last_day: date | None, note: str) -> AutoReplyClosure:
    """休業日: one day, or a range of days."""
    if first_day is None:
        raise AutoReplyError(_("日付を入力してください。"), field="first_day")
    last_day = last_day or first_day
    if last_day < first_day:
        raise AutoReplyError(_("終了日は開始日以降にしてください。"), field="last_day")
    row = AutoReplyClosure(shop_id=shop_id, first_day=first_day, last_day=last_day, note=(note or "")[:100])
    db.session.add(row)
    db.session.flush()
    return row


def remove_closure(closure: AutoReplyClosure) -> None:
    """Remove one of the shop's own 休業日."""
    db.session.delete(closure)
    db.session.flush()


def closures(shop_id: int) -> list[AutoReplyClosure]:
    """The shop's own 休業日 (dates and ranges), earliest first."""
    return list(db.session.scalars(
        sa.select(AutoReplyClosure).where(AutoReplyClosure.shop_id == shop_id).order_by(AutoReplyClosure.first_day)
    ))


def rules(shop_id: int) -> list[KeywordRule]:
    """Every rule of the shop, in the order they are tried."""
    return list(db.session.scalars(
        sa.select(KeywordRule).where(KeywordRule.shop_id == shop_id)
        .order_by(KeywordRule.priority.desc(), KeywordRule.id)
    ))


def _bump(shop_id: int) -> None:
    # A new random version (not +1): a rolled-back edit never leaves a version another edit reuses.
    row = settings_for(shop_id, for_update=True)
    row.rules_version = random.randint(1, 2 ** 31 - 1)
    db.session.flush()


def save_rule(rule: KeywordRule | None, shop_id: int, *, name: str, keyword: str, match_type: str, priority: int,
              enabled: bool, reply_kind: str, reply_text: str, image_url: str) -> KeywordRule:
    """Add (rule None) or change a rule; the reply is checked against LINE's limits now."""
    name, keyword = (name or "").strip(), (keyword or "").strip()
    if not name:
        raise AutoReplyError(_("ルール名を入力してください。"), field="name")
    if not matching.normalize(keyword):
        raise AutoReplyError(_("キーワードを入力してください。"), field="keyword")
    kind = ReplyKind(reply_kind)
    if kind == ReplyKind.TEXT:
        reply_text, image_url = check_text(reply_text, "reply_text"), ""
    elif kind == ReplyKind.IMAGE:
        image_url, reply_text = check_image_url(image_url, "image_url"), ""
    else:
        reply_text, image_url = "", ""
    if rule is None:
        count = db.session.scalar(sa.select(sa.func.count(KeywordRule.id)).where(KeywordRule.shop_id == shop_id)) or 0
        if count >= MAX_RULES:
            raise AutoReplyError(_("キーワード応答は%(n)d件までです。", n=MAX_RULES), field="name")
        rule = KeywordRule(shop_id=shop_id)
        db.session.add(rule)
    rule.name, rule.keyword, rule.match_type = name[:60], keyword[:200], MatchType(match_type)
    rule.priority, rule.enabled, rule.reply_kind = int(priority or 0), enabled, kind
    rule.reply_text, rule.image_url = reply_text, image_url
    db.session.flush()
    _bump(shop_id)
    return rule


def set_rule_enabled(rule: KeywordRule, enabled: bool) -> KeywordRule:
    rule.enabled = enabled
    db.session.flush()
    _bump(rule.shop_id)
    return rule


def delete_rule(rule: KeywordRule) -> None:
    shop_id = rule.shop_id
    db.session.delete(rule)
    db.session.flush()
    _bump(shop_id)


def save_reminder(shop_id: int, enabled: bool, at: time | None, text: str) -> AutoReplySettings:
    """予約リマインダー: on or off, the time of the day before, the text."""
    if at is None:
        raise AutoReplyError(_("送信時刻を入力してください。"), field="reminder_time")
    text = check_text(text, "reminder_text")
    row = settings_for(shop_id, for_update=True)
    row.reminder_enabled, row.reminder_time, row.reminder_text = enabled, at, text
    db.session.flush()
    return row
