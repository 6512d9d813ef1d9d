"""Every route of the app, classified from the URL map: who may reach it, and what guards it.

The security tests walk this inventory, and `bench/security_doc.py` writes
docs/security.md from it, so a new route is tested (or the run fails) the
moment it exists.
"""
from __future__ import annotations

from dataclasses import dataclass

from crm.plans.gate import GATED_BLUEPRINTS, PLAN_FREE

# endpoint -> why a signed-out visitor may reach it
PUBLIC = {
    "index": "redirects to the ledger or to sign-in",
    "health.healthz": "the load balancer's health check",
    "static": "the app's own CSS and JS",
    "assets.vendor": "htmx, installed from npm",
    "staff.login": "sign-in",
    "staff.set_language": "the 日本語 / English switch of the sign-in page",
    "bookings.page": "the shop's public booking page",
    "bookings.form": "the public booking form",
    "bookings.line_start": "LINE連携する on the booking page (LINE Login)",
    "bookings.line_callback": "LINE Login's callback",
    "bookings.done": "the booking page's confirmation",
    "linking.form": "the customer's linking form, opened from LINE by a signed, single-use token",
    "digests.notify_webhook": "LINE's webhook of the staff notification channel (signed by LINE)",
    "line_platform.webhook": "LINE's webhook, answered in front of Flask (signed by LINE)",
    "line_platform.outgoing_media": "LINE fetches the images staff send: a signed (SECRET_KEY), expiring token names one stored object",
}
# routes LINE calls: they carry LINE's signature instead of a CSRF token
CSRF_EXEMPT = {"digests.notify_webhook", "line_platform.webhook"}
ID_ARGS = {"customer_id", "staff_id", "friend_id", "message_id", "booking_id", "service_id",
           "request_id", "draft_id", "tag_id", "import_id", "broadcast_id", "reply_id", "rule_id", "closure_id"}
ROLES = ("owner", "staff")
PLANS_WITHOUT_PREMIUM = ("basic", "ended_trial")


@dataclass(frozen=True)
class Route:
    endpoint: str
    rule: str
    methods: tuple[str, ...]
    arguments: frozenset[str]

    @property
    def public(self) -> bool:
        return self.endpoint in PUBLIC

    @property
    def tenant_ids(self) -> list[str]:
        return sorted(arg for arg in self.arguments if arg.endswith("_id"))

    @property
    def plan_gated(self) -> bool:
        return self.endpoint.split(".")[0] in GATED_BLUEPRINTS and self.endpoint not in PLAN_FREE

    @property
    def state_changing(self) -> tuple[str, ...]:
        return tuple(m for m in self.methods if m not in ("GET", "HEAD", "OPTIONS"))


def routes(app) -> list[Route]:
    """Every rule of the URL map (build-only rules included: they name real endpoints)."""
    found = []
    for rule in app.url_map.iter_rules():
        methods = tuple(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        found.append(Route(rule.endpoint, rule.rule, methods, frozenset(rule.arguments)))
    return sorted(found, key=lambda r: (r.endpoint, r.rule))


# Cases the webhook tests refuse (tests/line_platform/test_webhook.py): each parametrized case, and
# the single-case tests named here.
_WEBHOOK_SINGLE_REFUSALS = ("test_body_over_the_limit_answers_413", "test_unknown_webhook_key_answers_404",
                            "test_other_methods_on_the_webhook_answer_405",
                            "test_an_overlong_webhook_event_id_is_refused_at_the_door",
                            "test_a_body_without_content_length_answers_411",
                            "test_webhook_needs_no_csrf_token_but_still_a_signature")
_WEBHOOK_PARAMETRIZED = ("test_bad_signatures_are_refused_and_nothing_is_stored", "test_malformed_bodies_answer_400")
# Fields the XSS tests fill with markup and read back escaped.
XSS_FIELDS = {
    "tests/customers/test_ledger.py": ("family_name", "memo"),
}


def _webhook_refusals() -> int:
    from tests.line_platform import test_webhook

    count = 0
    for name in _WEBHOOK_PARAMETRIZED:
        for mark in getattr(getattr(test_webhook, name), "pytestmark", []):
            if mark.name == "parametrize":
                count += len(mark.args[1])
    return count + sum(1 for name in _WEBHOOK_SINGLE_REFUSALS if hasattr(test_webhook, name))


def render_doc(app) -> str:
    """docs/security.md, counted from the URL map and the tests' own case lists."""
    from tests.plans.test_line_tab_gate import line_tab_requests

    all_routes = routes(app)
    pages = [r for r in all_routes if not r.public]
    id_cases = sum(len(r.methods) for r in all_routes if r.tenant_ids)
    id_routes = sum(1 for r in all_routes if r.tenant_ids)
    gated = line_tab_requests(app, {"customer_id": 1, "friend_id": 1})
    gated_endpoints = {e for e, _m, _u in gated}
    csrf_routes = [r for r in all_routes if r.state_changing and r.endpoint not in CSRF_EXEMPT
                   and r.endpoint != "staff.login"]
    csrf_requests = sum(len(r.state_changing) for r in csrf_routes)
    signed_out = sum(len(r.methods) for r in pages)
    lines = [
        "# Security checks",
        "",
        "Counted from the app's URL map and the tests' own case lists by",
        "`.venv/bin/python -m tests.security.write_doc`; `tests/security/test_doc.py` fails when this",
        "file is stale, so a new route shows up here (and in the tests that walk the URL map) at once.",
        "",
        f"Routes in the URL map: **{len(all_routes)}**, of which {len(PUBLIC)} are public by name",
        "(`tests/security/inventory.py`, each with its reason) and every other one needs a signed-in staff member.",
        "",
        "| check | what the tests try | cases |",
        "| --- | --- | --- |",
        f"| signed out | every non-public route × method: sent to sign-in (302 to /login, 401 for HTMX) "
        f"| {len(pages)} routes, {signed_out} requests |",
        f"| tenancy | every route with a shop-owned id ({', '.join(sorted(ID_ARGS))}) × method × "
        f"{len(ROLES)} roles (staff skip the owner-only ones, refused by role first), with another shop's ids: "
        f"404 and nothing changed | {id_routes} routes, {id_cases} requests per role |",
        f"| plan gating | every route of {', '.join(sorted(GATED_BLUEPRINTS))} (but {len(PLAN_FREE)} named open, "
        f"`crm/plans/gate.py`) and the customer page's LINE tab × {len(PLANS_WITHOUT_PREMIUM)} plans without premium × "
        f"{len(ROLES)} roles × page and HTMX: 403 with how to upgrade "
        f"| {len(gated_endpoints)} endpoints, {len(gated) * len(PLANS_WITHOUT_PREMIUM) * len(ROLES) * 2} requests |",
        f"| CSRF | every state-changing route ({len(csrf_routes)}; {len(CSRF_EXEMPT)} LINE webhooks exempt, signed "
        f"instead) × 3 variants (no token, forged, another session's) × page and HTMX: 400 "
        f"| {csrf_requests * 3 * 2} requests |",
        f"| XSS | markup in fields rendered back escaped; CSP without inline script (browser tests fail on a violation) "
        f"| {sum(len(f) for f in XSS_FIELDS.values())} fields |",
        f"| LINE webhook | bad signatures, malformed bodies, unknown key, size, method, length, overlong event id "
        f"| {_webhook_refusals()} refusal cases |",
        "",
    ]
    return "\n".join(lines)
