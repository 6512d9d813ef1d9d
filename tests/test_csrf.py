"""State-changing requests without the CSRF token are refused and change nothing."""
import sqlalchemy as sa

from crm.customers.models import Customer
from crm.extensions import db as _db
from tests.factories import make_customer


def _count(shop):
    return _db.session.scalar(sa.select(sa.func.count()).select_from(Customer).where(Customer.shop_id == shop.id))


def test_form_post_without_token_is_refused(client, auth, shop):
    auth.login(shop[1])
    response = client.post("/customers/new", data={"family_name": "山田"})
    assert response.status_code == 400
    assert "不正なリクエスト" in response.get_data(as_text=True)
    assert _count(shop[0]) == 0


def test_htmx_post_without_token_is_refused(client, auth, shop):
    customer = make_customer(shop[0])
    auth.login(shop[1])
    response = client.post(f"/customers/{customer.id}/delete", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert _count(shop[0]) == 1


def test_htmx_post_with_token_header_is_accepted(client, auth, shop):
    customer = make_customer(shop[0])
    auth.login(shop[1])
    token = client.csrf_token()
    response = client.post(f"/customers/{customer.id}/delete", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].endswith("/customers/")
    assert _count(shop[0]) == 0


def test_wrong_token_is_refused(client, auth, shop):
    auth.login(shop[1])
    response = client.post("/customers/new", data={"family_name": "山田", "csrf_token": "forged"})
    assert response.status_code == 400
    assert _count(shop[0]) == 0


def test_login_itself_needs_the_token(client, shop):
    response = client.post("/login", data={"email": shop[1].email, "password": "correct-horse-battery"})
    assert response.status_code == 400


def test_every_page_carries_the_token_for_htmx(client, auth, shop):
    auth.login(shop[1])
    html = client.get("/customers/").get_data(as_text=True)
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
