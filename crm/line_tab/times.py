"""Times for 送信予約 and 後で通知: the shop's timezone, quiet hours (22:00-8:00), one-click choices, checks."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.database import utcnow
from crm.errors import UserError

QUIET_FROM = time(22, 0)  # 22:00-8:00: a message then wakes people up
QUIET_UNTIL = time(8, 0)
MAX_AHEAD = timedelta(days=366)


class ScheduleError(UserError, ValueError):
    """The schedule cannot be made as asked; the text says why, in the user's language."""


class QuietHours(ScheduleError):
    """The time falls between 22:00 and 8:00 and the user has not confirmed it."""


class NotEditable(ScheduleError):
    """Sending has started (or the message was cancelled): it can no longer be changed."""

    status = 409


def shop_zone(tz_name):
    try:
        return ZoneInfo(tz_name or "Asia/Tokyo")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Tokyo")


def local_to_utc(date_value, time_value, tz_name):
    """A date ('2026-11-22') and time ('09:00') in the shop's timezone → aware UTC datetime."""
    try:
        day = date.fromisoformat((date_value or "").strip())
        clock = time.fromisoformat((time_value or "").strip())
    except ValueError:
        raise ScheduleError(_("送信日時を正しく入力してください。")) from None
    local = datetime.combine(day, clock.replace(tzinfo=None), tzinfo=shop_zone(tz_name))
    return local.astimezone(timezone.utc)


def to_local(value, tz_name):
    return value.astimezone(shop_zone(tz_name))


def in_quiet_hours(when_utc, tz_name):
    """True when the local time is from 22:00 until 8:00."""
    clock = to_local(when_utc, tz_name).time()
    return clock >= QUIET_FROM or clock < QUIET_UNTIL


@dataclass(frozen=True)
class QuickChoice:
    key: str
    label: str
    local: datetime

    @property
    def date_value(self):
        return self.local.date().isoformat()

    @property
    def time_value(self):
        return self.local.strftime("%H:%M")


QUICK_CHOICES = (
    ("in_1h", _l("1時間後")),
    ("today_18", _l("今日 18:00")),
    ("tomorrow_9", _l("明日 9:00")),
    ("tomorrow_12", _l("明日 12:00")),
    ("tomorrow_18", _l("明日 18:00")),
)


def quick_choices(tz_name, now=None):
    """The one-click times offered beside the date and time fields (those still in the future)."""
    zone = shop_zone(tz_name)
    local_now = (now or utcnow()).astimezone(zone)
    today, tomorrow = local_now.date(), local_now.date() + timedelta(days=1)
    in_1h = (local_now + timedelta(hours=1)).replace(second=0, microsecond=0)
    in_1h += timedelta(minutes=(5 - in_1h.minute % 5) % 5)  # on a five-minute mark
    at = {
        "in_1h": in_1h,
        "today_18": datetime.combine(today, time(18, 0), tzinfo=zone),
        "tomorrow_9": datetime.combine(tomorrow, time(9, 0), tzinfo=zone),
        "tomorrow_12": datetime.combine(tomorrow, time(12, 0), tzinfo=zone),
        "tomorrow_18": datetime.combine(tomorrow, time(18, 0), tzinfo=zone),
    }
    return [QuickChoice(key, str(label), at[key]) for key, label in QUICK_CHOICES if at[key] > local_now]


def quick_choice(key, tz_name, now=None):
    return next((c for c in quick_choices(tz_name, now) if c.key == key), None)


def check_time(scheduled_at, tz_name, confirm_quiet=False, now=None):
    """Refuse a time in the past or too far ahead; a night-time one unless confirmed."""
    now = now or utcnow()
    if scheduled_at <= now:
        raise ScheduleError(_("送信日時には、これから先の日時を指定してください。"))
    if scheduled_at > now + MAX_AHEAD:
        raise ScheduleError(_("送信日時は1年以内で指定してください。"))
    if in_quiet_hours(scheduled_at, tz_name) and not confirm_quiet:
        raise QuietHours(_("夜間（22:00〜8:00）に送信されます。よろしければ、もう一度「送信予約」を押してください。"))
