"""Control characters (NUL, BEL, ...) are refused with a clear message and store nothing.

A NUL reaching PostgreSQL was a 500; run this file with TEST_DATABASE_URL as well.
"""
import importlib
import pkgutil

import pytest
import sqlalchemy as sa
from flask_wtf import FlaskForm

import crm
from crm.bookings.models import Booking
from crm.customers.models import Customer
from crm.extensions import db as _db
from crm.models import LineMessage
from tests.bookings.helpers import bookable_shop, free_starts, post_booking
from tests.factories import PASSWORD, make_customer, make_friend

REFUSED = "使用できない制御文字が含まれています"


def _count(model, *where):
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _field_error(html, name):
    """The error paragraph rendered right after the field's input."""
    start = html.index(f'name="{name}"')
    return html[start:start + 600]


def test_login_email_with_nul_is_refused_beside_the_field(client, owner):
    response = client.post_form("/login", {"email": owner.email + "\x00", "password": PASSWORD})
    assert response.status_code == 422
    assert REFUSED in _field_error(response.get_data(as_text=True), "email")
    assert client.get("/customers/").status_code == 302


def test_login_password_with_nul_is_refused(client, owner):
    response = client.post_form("/login", {"email": owner.email, "password": PASSWORD + "\x00"})
    assert response.status_code == 422
    assert REFUSED in response.get_data(as_text=True)


def test_booking_name_with_nul_is_refused_and_nothing_is_booked(client, shop, db):
    salon = shop[0]
    cut = bookable_shop(salon)
    start = free_starts(salon, cut)[0]
    response = post_booking(client, salon, cut, start, family_name="伊\x00藤")
    assert response.status_code == 422
    assert REFUSED in _field_error(response.get_data(as_text=True), "family_name")
    assert _count(Booking, Booking.shop_id == salon.id) == 0
    assert _count(Customer, Customer.shop_id == salon.id) == 0


def test_customer_name_with_bel_is_refused_and_nothing_is_stored(client, auth, shop):
    auth.login(shop[1])
    response = client.post_form("/customers/new", {"family_name": "山\x07田", "given_name": "花子"})
    assert response.status_code == 422
    assert REFUSED in _field_error(response.get_data(as_text=True), "family_name")
    assert _count(Customer, Customer.shop_id == shop[0].id) == 0


def test_a_memo_keeps_tabs_and_new_lines_but_not_nul(client, auth, shop):
    auth.login(shop[1])
    response = client.post_form("/customers/new", {"family_name": "山田", "memo": "1行目\r\n\t2行目\x00"})
    assert response.status_code == 422
    assert REFUSED in _field_error(response.get_data(as_text=True), "memo")
    assert _count(Customer, Customer.shop_id == shop[0].id) == 0
    response = client.post_form("/customers/new", {"family_name": "山田", "memo": "1行目\r\n\t2行目"})
    assert response.status_code == 302
    assert _db.session.scalars(sa.select(Customer.memo)).one() == "1行目\r\n\t2行目"


def test_single_line_fields_refuse_a_tab(client, auth, shop):
    auth.login(shop[1])
    response = client.post_form("/customers/new", {"family_name": "山\t田"})
    assert response.status_code == 422
    assert REFUSED in _field_error(response.get_data(as_text=True), "family_name")


def test_a_search_query_with_nul_is_a_400_not_a_500(client, auth, shop):
    auth.login(shop[1])
    response = client.get("/customers/", query_string={"q": "山\x00"})
    assert response.status_code == 400
    assert REFUSED in response.get_data(as_text=True)
    response = client.htmx_get("/customers/?q=%00", "customer-results")
    assert response.status_code == 400
    assert REFUSED in response.get_data(as_text=True)


def test_a_line_message_read_from_the_raw_form_is_refused(client, auth, shop):
    customer = make_customer(shop[0])
    make_friend(shop[0], customer)
    auth.login(shop[1])
    response = client.post_form(f"/customers/{customer.id}/line/messages", {"text": "こんにちは\x00"},
                                headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert REFUSED in response.get_data(as_text=True)
    assert _count(LineMessage) == 0


def test_a_path_with_nul_is_not_found(client, shop):
    assert client.get("/book/%00").status_code == 404
    assert client.get(f"/book/{shop[0].booking_key}%00/form").status_code == 404


def _every_form_class():
    for module in pkgutil.walk_packages(crm.__path__, "crm."):
        if module.name != "crm.wsgi":  # builds the production app from the environment
            importlib.import_module(module.name)
    seen, todo = set(), [FlaskForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return {cls for cls in seen if cls.__module__.startswith("crm.")}


def test_every_form_of_the_app_refuses_control_characters():
    from crm.forms import BaseForm  # noqa: PLC0415  (the module under test)

    forms = _every_form_class()
    assert len(forms) >= 10
    outside = sorted(f"{cls.__module__}.{cls.__name__}" for cls in forms if not issubclass(cls, BaseForm))
    assert outside == []


@pytest.mark.parametrize("value", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_which_characters_are_refused(client, auth, shop, value):
    auth.login(shop[1])
    response = client.post_form("/customers/new", {"family_name": f"山{value}田"})
    assert response.status_code == 422
