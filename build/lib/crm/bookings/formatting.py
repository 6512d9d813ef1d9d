"""Dates, times and prices of bookings as the shop reads them (its own timezone, whoever asks)."""
from zoneinfo import ZoneInfo

from flask_babel import format_date
from flask_babel import gettext as _

from crm.database import utcnow


def _zone(tz):
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def local(moment, tz):
    """An aware time in the shop's timezone."""
    return moment.astimezone(_zone(tz))


def day_label(value, tz=None, with_year=False):
    """「11月24日(火)」 for a date, or for an aware time in the shop's timezone."""
    if hasattr(value, "astimezone") and tz is not None:
        value = local(value, tz).date()
    pattern = _("y年M月d日(E)") if with_year else _("M月d日(E)")
    return format_date(value, pattern)


def chip_date(day):
    """「11/24」 for the day strip."""
    return format_date(day, "M/d")


def chip_weekday(day):
    """「(火)」 for the day strip."""
    return format_date(day, "(E)")


def time_label(moment, tz):
    """「10:00」 in the shop's timezone."""
    return local(moment, tz).strftime("%H:%M")


def yen(amount):
    """「¥4,400」."""
    return f"¥{amount:,}"


def duration_label(minutes):
    """「60分」, 「2時間」, 「1時間30分」."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return _("%(minutes)d分", minutes=rest)
    if not rest:
        return _("%(hours)d時間", hours=hours)
    return _("%(hours)d時間%(minutes)d分", hours=hours, minutes=rest)


def register(state):
    """Install the filters on the app (blueprint record hook)."""
    app = state.app
    app.add_template_filter(day_label, "booking_day")
    app.add_template_filter(time_label, "booking_time")
    app.add_template_filter(chip_date, "booking_chip_date")
    app.add_template_filter(chip_weekday, "booking_chip_weekday")
    app.add_template_filter(yen, "yen")
    app.add_template_filter(duration_label, "duration")
    app.add_template_global(utcnow, "now_utc")
