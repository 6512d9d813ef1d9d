"""Signing in and out, throttling, session safety."""
import pytest

from crm import create_app
from crm.config import ProductionConfig
from crm.extensions import db as _db
from crm.staff.services import reset_password
from tests.factories import PASSWORD, make_staff


def test_owner_signs_in_and_lands_on_the_ledger(client, auth, owner):
    response = auth.login(owner)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/customers/")
    assert client.get("/customers/").status_code == 200


def test_email_is_case_insensitive(client, owner):
    response = client.post_form("/login", {"email": owner.email.upper(), "password": PASSWORD})
    assert response.status_code == 302


def test_wrong_password_shows_an_error_and_signs_nobody_in(client, auth, owner):
    response = auth.login(owner, password="wrong-password!")
    assert response.status_code == 200
    assert "メールアドレスまたはパスワードが正しくありません。" in response.get_data(as_text=True)
    assert client.get("/customers/").status_code == 302


def test_unknown_email_gets_the_same_answer(client):
    response = client.post_form("/login", {"email": "nobody@example.com", "password": PASSWORD})
    assert "メールアドレスまたはパスワードが正しくありません。" in response.get_data(as_text=True)


def test_deactivated_staff_cannot_sign_in(client, auth, shop):
    staff = make_staff(shop[0])
    staff.active = False
    _db.session.flush()
    response = auth.login(staff)
    assert response.status_code == 200
    assert client.get("/customers/").status_code == 302


def test_passwords_are_stored_as_argon2id(owner):
    assert owner.password_hash.startswith("$argon2id$")
    assert PASSWORD not in owner.password_hash


def test_sign_in_attempts_on_one_account_are_throttled(client, auth, owner, app):
    # LOGIN_RATE_LIMIT_PER_ACCOUNT is 5 per minute
    for _ in range(5):
        assert auth.login(owner, password="wrong-password!").status_code == 200
    response = auth.login(owner)  # even the right password waits now
    assert response.status_code == 429
    assert "試行回数が多すぎます" in response.get_data(as_text=True)
    assert client.get("/customers/").status_code == 302


def test_throttling_one_account_does_not_lock_out_another(client, auth, shop):
    other = make_staff(shop[0])
    for _ in range(5):
        auth.login(shop[1], password="wrong-password!")
    assert auth.login(other).status_code == 302


def test_session_cookie_is_httponly_and_samesite(client, auth, owner):
    response = auth.login(owner)
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_logout_needs_post(client, auth, owner):
    auth.login(owner)
    assert client.get("/logout").status_code == 405
    assert auth.logout().status_code == 302
    assert client.get("/customers/").status_code == 302


def test_password_reset_ends_existing_sessions(client, auth, shop):
    staff = make_staff(shop[0])
    auth.login(staff)
    assert client.get("/customers/").status_code == 200
    reset_password(staff, "a-brand-new-password")
    _db.session.flush()
    assert client.get("/customers/").status_code == 302


def test_next_parameter_only_follows_local_paths(client, owner):
    token = client.csrf_token()
    response = client.post(
        "/login?next=https://evil.example/", data={"email": owner.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"].endswith("/customers/")


def test_htmx_request_without_session_is_told_to_redirect(client):
    response = client.htmx_get("/customers/", "customer-results")
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].endswith("/login")


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)

    class Config(ProductionConfig):
        SECRET_KEY = None

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Config)
