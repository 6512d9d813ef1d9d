"""The owner manages staff accounts; staff cannot."""
import sqlalchemy as sa

from crm.extensions import db as _db
from crm.staff.models import LineSendMode, Role, Staff
from tests.factories import PASSWORD, make_staff


def _staff_by_email(email):
    return _db.session.scalars(sa.select(Staff).where(Staff.email == email)).first()


def test_owner_creates_a_staff_account_that_can_sign_in(client, auth, owner):
    auth.login(owner)
    response = client.post_form(
        "/staff/new",
        {"name": "青木 翼", "email": "Tsubasa@Example.com", "password": "long-enough-pw",
         "role": "staff", "line_send_mode": "direct"},
    )
    assert response.status_code == 302
    staff = _staff_by_email("tsubasa@example.com")
    assert staff.shop_id == owner.shop_id
    assert staff.role == Role.STAFF
    assert staff.line_send_mode == LineSendMode.DIRECT
    assert staff.may_send_line_directly
    auth.logout()
    assert auth.login(staff, password="long-enough-pw").status_code == 302


def test_staff_creation_errors_are_shown_beside_the_fields(client, auth, owner):
    auth.login(owner)
    response = client.post_form(
        "/staff/new", {"name": "", "email": owner.email, "password": "short", "role": "staff", "line_send_mode": "approval"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "名前を入力してください。" in html
    assert "パスワードは10文字以上にしてください。" in html


def test_duplicate_email_is_refused(client, auth, owner):
    auth.login(owner)
    response = client.post_form(
        "/staff/new",
        {"name": "x", "email": owner.email, "password": "long-enough-pw", "role": "staff", "line_send_mode": "approval"},
    )
    assert "このメールアドレスは既に使われています。" in response.get_data(as_text=True)


def test_drafts_need_approval_is_the_default_for_staff(shop):
    staff = make_staff(shop[0])
    assert staff.line_send_mode == LineSendMode.APPROVAL
    assert not staff.may_send_line_directly
    assert shop[1].may_send_line_directly  # owners always may


def test_owner_changes_the_send_setting(client, auth, shop):
    owner = shop[1]
    staff = make_staff(shop[0])
    auth.login(owner)
    response = client.post_form(
        f"/staff/{staff.id}/edit", {"name": staff.name, "role": "staff", "line_send_mode": "direct"}
    )
    assert response.status_code == 302
    _db.session.refresh(staff)
    assert staff.line_send_mode == LineSendMode.DIRECT


def test_owner_deactivates_staff_and_their_session_ends(client, auth, shop, app):
    owner = shop[1]
    staff = make_staff(shop[0])
    staff_client = app.test_client()
    staff_client.post_form("/login", {"email": staff.email, "password": PASSWORD})
    assert staff_client.get("/customers/").status_code == 200

    auth.login(owner)
    assert client.post_form(f"/staff/{staff.id}/active", {"active": "0"}).status_code == 302
    _db.session.refresh(staff)
    assert staff.active is False
    assert staff_client.get("/customers/").status_code == 302

    client.post_form(f"/staff/{staff.id}/active", {"active": "1"})
    _db.session.refresh(staff)
    assert staff.active is True


def test_owner_resets_a_password(client, auth, shop, app):
    staff = make_staff(shop[0])
    auth.login(shop[1])
    assert client.post_form(f"/staff/{staff.id}/password", {"password": "new-password-123"}).status_code == 302
    other = app.test_client()
    assert other.post_form("/login", {"email": staff.email, "password": PASSWORD}).status_code == 200
    assert other.post_form("/login", {"email": staff.email, "password": "new-password-123"}).status_code == 302


def test_too_short_reset_password_is_refused(client, auth, shop):
    staff = make_staff(shop[0])
    auth.login(shop[1])
    response = client.post_form(f"/staff/{staff.id}/password", {"password": "short"})
    assert response.status_code == 422
    assert "パスワードは10文字以上にしてください。" in response.get_data(as_text=True)


def test_owner_cannot_deactivate_themselves_or_remove_the_last_owner(client, auth, owner):
    auth.login(owner)
    client.post_form(f"/staff/{owner.id}/active", {"active": "0"})
    _db.session.refresh(owner)
    assert owner.active
    response = client.post_form(f"/staff/{owner.id}/edit", {"name": owner.name, "role": "staff", "line_send_mode": "direct"})
    assert "オーナーが1人もいなくなるため" in response.get_data(as_text=True)
    _db.session.refresh(owner)
    assert owner.role == Role.OWNER


def test_staff_cannot_manage_staff(client, auth, shop):
    staff = make_staff(shop[0], line_send_mode=LineSendMode.DIRECT)
    auth.login(staff)
    page = client.get("/staff/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/customers/")
    assert client.htmx_get("/staff/", "main").status_code == 403
    response = client.post_form(
        "/staff/new",
        {"name": "x", "email": "sneaky@example.com", "password": "long-enough-pw", "role": "owner", "line_send_mode": "direct"},
    )
    assert response.status_code == 302
    assert _staff_by_email("sneaky@example.com") is None
    client.post_form(f"/staff/{shop[1].id}/active", {"active": "0"})
    client.post_form(f"/staff/{staff.id}/edit", {"name": "x", "role": "owner", "line_send_mode": "direct"})
    _db.session.refresh(shop[1])
    _db.session.refresh(staff)
    assert shop[1].active and staff.role == Role.STAFF


def test_staff_list_shows_only_this_shop(client, auth, shop):
    from tests.factories import make_shop

    other_shop, other_owner = make_shop()
    auth.login(shop[1])
    html = client.get("/staff/").get_data(as_text=True)
    assert shop[1].email in html
    assert other_owner.email not in html
