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


def line_tab_enabled():
    """True when the signed-in shop may use the LINE tab (cached for the request)."""
    from flask import g
    from flask_login import current_user

    from crm.plans import line_tab_available

    if "line_tab_enabled" not in g:
        g.line_tab_enabled = current_user.is_authenticated and line_tab_available(current_user.shop)
    return g.line_tab_enabled


def line_unread(viewing=None):
    """The yellow bar's numbers for the signed-in shop, leaving out the conversation on screen."""
    from flask_login import current_user

    from crm.line_tab.conversation import unread_summary

    return unread_summary(current_user.shop_id, except_friend_id=viewing)


def register(app):
    """Install the filters on the app's Jinja environment."""
    app.add_template_global(line_tab_enabled, "line_tab_enabled")
    app.add_template_global(line_unread, "line_unread")
    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_filter(local_date, "local_date")
    app.add_template_global(get_locale, "get_locale")
