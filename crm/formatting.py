"""Template filters: dates in the shop's timezone, phone display."""
from flask_babel import format_date, format_datetime, get_locale


def local_datetime(value, fmt="yyyy/MM/dd HH:mm"):
    """An aware UTC datetime shown in the signed-in shop's timezone."""
    if value is None:
        return ""
    return format_datetime(value, fmt)


def local_date(value, fmt="yyyy/MM/dd"):
    """A date as the shop reads it."""
    if value is None:
        return ""
    return format_date(value, fmt)


def register(app):
    """Install the filters on the app's Jinja environment."""
    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_filter(local_date, "local_date")
    app.add_template_global(get_locale, "get_locale")
