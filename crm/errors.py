"""One user-error type and its one handler.

A service raises a `UserError` subclass carrying translated text; no view
catches it.  The handler rolls the request back and answers an HTMX request with
a 422 fragment (the message), a page with a flash and a redirect back.
"""
from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, url_for

from crm import jobs
from crm.extensions import htmx


class UserError(Exception):
    """Something the user asked for that cannot be done; the text says why, in the user's language.

    `field` names the form field it belongs to (when there is one); `status` is
    the HTTP status of the answer (422 unless a subclass says otherwise).
    """

    status = 422
    default_message = None  # a subclass's text when raised without one (a lazy_gettext string)

    def __init__(self, message=None, *, field=None, status=None):
        if message is None and self.default_message is not None:
            message = str(self.default_message)
        super().__init__(*(() if message is None else (message,)))
        self.field = field
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        """The translated text shown to the user."""
        return str(self)


def back_to(url: str) -> None:
    """Where a page (non-HTMX) request goes after a UserError raised later in this request."""
    g.user_error_back = url


def answer_with(render) -> None:
    """For a UserError raised later in this request, `render(error)` makes the answer (after the rollback).

    For views that show the error in place, e.g. the LINE tab again with the text that was typed.
    """
    g.user_error_answer = render


def _same_site(target):
    if not target:
        return None
    parts = urlsplit(target)
    if parts.netloc and parts.netloc != request.host:
        return None
    return target


def _back_url():
    chosen = g.get("user_error_back")
    if chosen:
        return chosen
    referrer = _same_site(request.referrer)
    if referrer:
        return referrer
    if request.method == "GET":
        return request.full_path.rstrip("?")
    return url_for("index")


def handle_user_error(error: UserError):
    """The one handler: roll back; a 422 fragment for HTMX, a flash and a redirect back for a page."""
    jobs.rollback()
    render = g.get("user_error_answer")
    if render is not None:
        return render(error)
    if htmx:
        return render_template("_user_error.html", error=error), error.status
    flash(error.message, "error")
    return redirect(_back_url())


def init_app(app) -> None:
    """Register the handler (a blueprint may register its own for UserError, e.g. the LINE tab)."""
    app.register_error_handler(UserError, handle_user_error)
