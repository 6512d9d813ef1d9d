"""Absolute URLs for links that leave the app (LINE messages, webhook registration)."""
from flask import current_app, has_request_context, url_for


def external_url(endpoint, **values):
    """An absolute URL on PUBLIC_BASE_URL (or the request's host), also from jobs."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        with current_app.test_request_context(base_url=base.rstrip("/")):
            return url_for(endpoint, _external=True, **values)
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    raise RuntimeError("PUBLIC_BASE_URL must be set to build links outside a request")
