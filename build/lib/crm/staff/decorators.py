"""Role checks: 403 for HTMX requests, a redirect with a message for pages."""
from functools import wraps

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.extensions import htmx


def owner_required(view):
    """Only the shop's owner may use this view."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_owner:
            if htmx:
                abort(403)
            flash(_("この操作はオーナーのみ行えます。"), "error")
            return redirect(url_for("customers.index"))
        return view(*args, **kwargs)

    return wrapped
