"""The browser check for Content-Security-Policy violations finds them (so a green run means none)."""
import pytest

pytestmark = pytest.mark.browser

_PAGE_WITH_INLINE_SCRIPT = (
    '<!doctype html><html><head><meta charset="utf-8"></head><body>'
    '<script>document.body.dataset.ran = "1";</script><button onclick="alert(1)">x</button></body></html>'
)


def test_a_csp_violation_is_reported_as_a_page_problem(page, live_server):
    login = page.request.get(f"{live_server.url}/login")
    policy = login.headers["content-security-policy"]
    assert "script-src 'self'" in policy

    page.route(f"{live_server.url}/csp-probe", lambda route: route.fulfill(
        status=200, body=_PAGE_WITH_INLINE_SCRIPT, content_type="text/html",
        headers={"Content-Security-Policy": policy},
    ))
    page.goto("/csp-probe")
    page.wait_for_load_state("load")
    page.get_by_role("button").click()
    assert page.evaluate("document.body.dataset.ran") is None  # the policy blocked it
    found = [error for error in page.problems.errors if "CSP" in error or "Content Security Policy" in error]
    assert found, page.problems.errors
    page.problems.errors.clear()  # expected here; every other test fails on one


def test_the_app_pages_run_their_scripts_under_the_policy(page, live_server, seed):
    from tests.browser.conftest import sign_in

    sign_in(page, seed.owner_email)
    page.wait_for_url("**/customers/")
    page.goto(f"/customers/{seed.linked.id}")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof htmx") == "object"
    assert page.evaluate("htmx.config.allowEval") is False
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
