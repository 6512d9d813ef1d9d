"""The app's HTTP security setup: response headers (Flask-Talisman) and the input guard.

LINE's webhook is answered by the WSGI ingress in front of Flask, so none of this
touches it (it returns no HTML).
"""
from urllib.parse import urlsplit

from flask_talisman import Talisman

# htmx runs with allowEval off and its indicator style in app.css (see base.html's
# htmx-config), so scripts and styles come only from the app's own files.
_CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # LINE profile pictures (friend avatars) come from LINE's CDN.
    "img-src": ["'self'", "data:", "https://profile.line-scdn.net"],
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
    """Security headers on every Flask response; HSTS in production only."""
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
