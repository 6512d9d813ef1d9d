"""The plan gate over whole blueprints: every LINE route is premium unless listed here.

A route added to one of GATED_BLUEPRINTS is gated from the moment it exists; a
route that must stay open to every plan is named in PLAN_FREE with the reason,
and tests/plans/test_line_tab_gate.py walks the URL map against both.
"""
from flask import Flask, request
from flask_login import login_required

from crm.shops.plans import require_line_tab

GATED_BLUEPRINTS = frozenset({"line_tab", "line_platform", "linking", "broadcasts", "autoreply"})

# endpoint -> why a shop without premium may use it
PLAN_FREE = {
    "line_platform.webhook": "LINE's webhook (answered in front of Flask): messages are kept whatever the plan",
    "line_platform.settings": "the channel's settings show no message, media or friend",
    "line_platform.install_rich_menu": "installs the customer rich menu; shows nothing",
    "line_platform.outgoing_media": "LINE fetches images already sent (signed, expiring URL); the customer keeps seeing them",
    "linking.form": "the customer's own linking form, reached from LINE (no staff sign-in)",
    "linking.unlink": "a ledger action on the customer; shows no message",
    "linking.merge": "merging two customer records of the ledger",
}


def _gate():
    endpoint = request.endpoint or ""
    if request.blueprint not in GATED_BLUEPRINTS or endpoint in PLAN_FREE:
        return None
    # Authentication first (a signed-out visitor is sent to sign in), then the plan.
    unauthorized = login_required(lambda: None)()
    if unauthorized is not None:
        return unauthorized
    require_line_tab()
    return None


def init_app(app: Flask) -> None:
    """Gate every route of the LINE blueprints by plan, before their views run."""
    app.before_request(_gate)
