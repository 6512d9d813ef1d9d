"""Server-side revocation: logout, a password change and deactivation end every copy of a session."""
from crm.extensions import db as _db
from tests.factories import PASSWORD, make_staff

REMEMBER = "remember_token"


def _sign_in(client, staff, remember=False):
    data = {"email": staff.email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post_form("/login", data)
    assert response.status_code == 302
    assert client.get("/customers/").status_code == 200


def _replay(app, **cookies):
    """A fresh client (another browser, or a stolen cookie) carrying only these cookies."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def test_logout_deletes_the_remember_cookie(client, owner):
    _sign_in(client, owner, remember=True)
    assert client.get_cookie(REMEMBER) is not None
    response = client.post_form("/logout")
    assert response.status_code == 302
    deletions = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{REMEMBER}=")]
    assert deletions and "Expires=Thu, 01 Jan 1970" in deletions[0]
    assert client.get_cookie(REMEMBER) is None
    assert client.get("/customers/").status_code == 302


def test_logout_ends_copies_of_the_session_and_remember_cookies(client, app, owner):
    _sign_in(client, owner, remember=True)
    session_cookie = client.get_cookie("session").value
    remember_cookie = client.get_cookie(REMEMBER).value
    # Both copies work before logout (so the checks below can fail).
    assert _replay(app, session=session_cookie).get("/customers/").status_code == 200
    assert _replay(app, **{REMEMBER: remember_cookie}).get("/customers/").status_code == 200

    client.post_form("/logout")

    for cookies in ({"session": session_cookie}, {REMEMBER: remember_cookie},
                    {"session": session_cookie, REMEMBER: remember_cookie}):
        response = _replay(app, **cookies).get("/customers/")
        assert response.status_code == 302, cookies
        assert "/login" in response.headers["Location"]


def test_owner_changing_their_password_ends_their_other_devices(client, app, owner):
    phone = app.test_client()
    _sign_in(phone, owner, remember=True)
    remember_cookie = phone.get_cookie(REMEMBER).value
    _sign_in(client, owner)
    response = client.post_form(f"/staff/{owner.id}/password", {"password": "another-password-456"})
    assert response.status_code == 302
    assert client.get("/customers/").status_code == 200  # the device that changed it stays signed in
    assert phone.get("/customers/").status_code == 302
    assert _replay(app, **{REMEMBER: remember_cookie}).get("/customers/").status_code == 302


def test_deactivation_ends_sessions_and_remember_cookies(client, app, shop):
    staff = make_staff(shop[0])
    tablet = app.test_client()
    _sign_in(tablet, staff, remember=True)
    remember_cookie = tablet.get_cookie(REMEMBER).value
    _sign_in(client, shop[1])
    assert client.post_form(f"/staff/{staff.id}/active", {"active": "0"}).status_code == 302
    assert tablet.get("/customers/").status_code == 302
    assert _replay(app, **{REMEMBER: remember_cookie}).get("/customers/").status_code == 302
    # Reactivating does not bring the old cookies back.
    client.post_form(f"/staff/{staff.id}/active", {"active": "1"})
    _db.session.refresh(staff)
    assert staff.active is True
    assert _replay(app, **{REMEMBER: remember_cookie}).get("/customers/").status_code == 302


def test_session_survives_a_change_of_network(client, owner):
    """A phone moving between Wi-Fi and 4G keeps its session (session_protection "basic")."""
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    _sign_in(client, owner)
    client.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    assert client.get("/customers/").status_code == 200
    response = client.get("/customers/", headers={"X-Forwarded-For": "203.0.113.30"})
    assert response.status_code == 200


def test_remembered_session_survives_a_change_of_network(client, owner):
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    _sign_in(client, owner, remember=True)
    client.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    assert client.get("/customers/").status_code == 200
    assert client.get_cookie(REMEMBER) is not None
    assert client.get("/customers/").status_code == 200
