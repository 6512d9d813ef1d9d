"""The app's HTTP security setup: response headers (Flask-Talisman) and the input guard
(no query, form or path value with a control character reaches a view or the database).

LINE's webhook is answered by the WSGI ingress in front of Flask, so none of this
touches it (it returns no HTML).
"""
from urllib.parse import urlsplit

from flask import Request, abort, g, request
from flask_babel import gettext as _
from flask_talisman import Talisman
from werkzeug.datastructures import CombinedMultiDict, ImmutableMultiDict
from werkzeug.exceptions import BadRequest

# htmx runs with allowEval off and its indicator style in app.css (see base.html's
# htmx-config), so scripts and styles come only from the app's own files.
_CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # LINE profile pictures (friend avatars) come from LINE's CDN.
    # blob: the composer previews an image chosen, pasted or dropped before it is sent.
    "img-src": ["'self'", "data:", "blob:", "https://profile.line-scdn.net"],
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(app) -> dict:
    """The policy for this app's config: forms may also lead to LINE Login."""
    policy = dict(_CONTENT_SECURITY_POLICY)
    # Chromium checks form-action on the redirect that follows a form post too:
    # 「LINE連携する」 posts to the app, which redirects to LINE Login.
    policy["form-action"] = ["'self'", _origin(app.config["LINE_ACCESS_BASE_URL"])]
    return policy


def register_security(app) -> None:
    """Security headers on every Flask response (HSTS in production only), and the input guard."""
    register_input_guard(app)
    # One Talisman per app, not an unbound one in crm.extensions: Talisman keeps its
    # options on the instance, so a second app (tests build several) would overwrite them.
    app.extensions["talisman"] = Talisman(
        app,
        content_security_policy=content_security_policy(app),
        frame_options="DENY",
        referrer_policy="same-origin",
        permissions_policy={"camera": "()", "microphone": "()", "geolocation": "()", "browsing-topics": "()"},
        # TLS ends at the proxy in front of gunicorn; the app never redirects to https itself.
        force_https=False,
        strict_transport_security=app.config["HSTS"],
        strict_transport_security_max_age=app.config["HSTS_MAX_AGE"],
        strict_transport_security_include_subdomains=False,
        # Talisman writes these into app.config: keep the values config.py chose.
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
        x_content_type_options=True,
    )


# Control characters (Unicode category Cc): C0, DEL and C1. A textarea keeps tab and new lines.
_CONTROL = frozenset(chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)))
_CONTROL_SINGLE_LINE = _CONTROL
_CONTROL_MULTILINE = _CONTROL - {"\t", "\n", "\r"}


def control_character_in(value: str, *, multiline: bool = False) -> bool:
    """True when the text holds a character no input of the app accepts."""
    refused = _CONTROL_MULTILINE if multiline else _CONTROL_SINGLE_LINE
    return not refused.isdisjoint(value)


class ControlCharacterError(BadRequest):
    """A query or form value with a control character, read outside a form."""

    def __init__(self, name: str):
        super().__init__(_("「%(field)s」に使用できない制御文字が含まれています。", field=name))


class CheckedMultiDict(ImmutableMultiDict):
    """request.args and request.form: reading a value with a control character is a 400.

    Views that read values directly (search boxes, HTMX endpoints, the composer) are
    covered without a check of their own; tab and new lines pass, as a textarea sends them.
    Forms (crm.forms.BaseForm) read unchecked() and put the error beside the field.
    """

    def _checked(self, key, values):
        for value in values:
            if isinstance(value, str) and control_character_in(value, multiline=True):
                raise ControlCharacterError(key)
        return values

    def __getitem__(self, key):
        if key in self:
            self._checked(key, dict.__getitem__(self, key))
        return super().__getitem__(key)

    def getlist(self, key, type=None):  # noqa: A002  (werkzeug's signature)
        if key in self:
            self._checked(key, dict.__getitem__(self, key))
        return super().getlist(key, type)

    def lists(self):
        for key, values in super().lists():
            yield key, list(self._checked(key, values))

    def items(self, multi=False):
        for key, values in self.lists():
            if multi:
                for value in values:
                    yield key, value
            else:
                yield key, values[0]

    def values(self):
        for _key, value in self.items():
            yield value

    def listvalues(self):
        for _key, values in self.lists():
            yield values

    def unchecked(self) -> ImmutableMultiDict:
        """The same values without the check (for forms, which report it per field)."""
        return ImmutableMultiDict({key: list(values) for key, values in dict.items(self)})


def unchecked(formdata):
    """Form data as WTForms should see it: every value, control characters included."""
    if isinstance(formdata, CheckedMultiDict):
        return formdata.unchecked()
    if isinstance(formdata, CombinedMultiDict):
        return CombinedMultiDict([unchecked(part) for part in formdata.dicts])
    return formdata


class CheckedRequest(Request):
    parameter_storage_class = CheckedMultiDict


def _refuse_control_characters_in_paths():
    # /book/<key> and the like: no key holds a control character (and PostgreSQL refuses NUL).
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and control_character_in(value):
            abort(404)


def _form_errors_are_unprocessable(response):
    # A form shown again because a field held a control character answers 422 (not for
    # HTMX, which swaps only 2xx answers unless told otherwise).
    if g.get("refused_control_characters") and response.status_code == 200 and not request.headers.get("HX-Request"):
        response.status_code = 422
    return response


def register_input_guard(app) -> None:
    """Control characters are refused in every query, form and path value."""
    app.request_class = CheckedRequest
    app.before_request(_refuse_control_characters_in_paths)
    app.after_request(_form_errors_are_unprocessable)
