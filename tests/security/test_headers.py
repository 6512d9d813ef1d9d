"""Security headers: CSP without inline script, nosniff, no framing, referrer policy, HSTS in production."""
import re

import pytest

from crm import create_app
from crm.config import ProductionConfig, TestingConfig
from crm.extensions import db as _db
from crm.models import LineMessage
from tests.factories import make_customer, make_friend


def _csp(response):
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


def _assert_page_headers(response):
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin")
    csp = _csp(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert "'unsafe-inline'" not in csp["style-src"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert "form-action" in csp and "base-uri" in csp
    assert "Strict-Transport-Security" not in response.headers  # only in production


def test_pages_carry_the_security_headers(client, auth, owner):
    _assert_page_headers(client.get("/login"))
    auth.login(owner)
    response = client.get("/customers/")
    assert response.status_code == 200
    _assert_page_headers(response)


def test_fragments_carry_the_security_headers(client, auth, owner):
    auth.login(owner)
    response = client.htmx_get("/customers/?q=a", "customer-results")
    assert response.status_code == 200
    _assert_page_headers(response)


def test_booking_page_form_action_allows_line_login(client, shop, app):
    response = client.get(f"/book/{shop[0].booking_key}")
    _assert_page_headers(response)
    form_action = _csp(response)["form-action"]
    assert "'self'" in form_action
    # The booking form posts to the app, which redirects to LINE Login; Chromium checks
    # form-action on that redirect too.
    assert app.config["LINE_ACCESS_BASE_URL"].rstrip("/") in form_action


def test_pages_have_no_inline_script_or_handlers(client, auth, shop):
    customer = make_customer(shop[0])
    make_friend(shop[0], customer)
    auth.login(shop[1])
    for url in ("/customers/", "/customers/new", "/login", "/settings/plan", "/staff/", f"/customers/{customer.id}",
                f"/book/{shop[0].booking_key}", f"/book/{shop[0].booking_key}/form"):
        html = client.get(url, follow_redirects=True).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\son[a-z]+=", html), url
        assert not re.search(r"\shx-on", html), url
        assert not re.search(r"<style|\sstyle=", html), url
        if "htmx.min.js" in html:
            assert 'name="htmx-config"' in html and '"allowEval": false' in html, url
            assert '"includeIndicatorStyles": false' in html, url


def test_customer_media_is_private_and_not_sniffed(client, auth, shop, app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_STORAGE_DIR", str(tmp_path))
    (tmp_path / str(shop[0].id)).mkdir()
    (tmp_path / str(shop[0].id) / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # keys are <shop id>/<name>
    customer = make_customer(shop[0])
    friend = make_friend(shop[0], customer)
    message = LineMessage(shop_id=shop[0].id, friend_id=friend.id, direction="in", message_type="image",
                          media_path=f"{shop[0].id}/photo.png", media_content_type="image/png", media_status="stored")
    _db.session.add(message)
    _db.session.flush()
    auth.login(shop[1])
    with client.get(f"/line/media/{message.id}") as response:
        assert response.status_code == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        cache = response.headers["Cache-Control"]
        assert "private" in cache and "public" not in cache


@pytest.fixture
def production_app(app, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x")
    # No in-process ticker: it would tick on the tests' shared connection for the rest of the run.
    monkeypatch.setenv("LINE_TICK_SECONDS", "0")

    class Config(ProductionConfig):
        SECRET_KEY = "production-test-key"
        CREDENTIALS_KEYS = TestingConfig.CREDENTIALS_KEYS
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        # No in-process ticker: its threads would share the test's connection (db.session is swapped per test).
        LINE_TICK_SECONDS = 0

    return create_app(Config)


def test_hsts_only_in_production(client, production_app):
    assert "Strict-Transport-Security" not in client.get("/login", base_url="https://localhost").headers
    response = production_app.test_client().get("/healthz", base_url="https://localhost")
    assert response.status_code == 200
    hsts = response.headers["Strict-Transport-Security"]
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 60 * 60 * 24 * 180
    behind_proxy = production_app.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" in behind_proxy.headers
