"""Every LINE-tab endpoint refuses a shop without premium: walked from the app's URL map, so none is left ungated."""
from datetime import timedelta

import pytest

from crm.database import utcnow
from crm.extensions import db as _db
from crm.shops.models import Plan
from tests.factories import make_customer, make_friend, make_shop, make_staff

PREMIUM_TEXT = "顧客台帳のLINEタブはプレミアムプランでご利用いただけます"


def _value(converter, arg, ids):
    if arg in ids:
        return ids[arg]
    name = type(converter).__name__
    if name == "IntegerConverter":
        return 1
    if name == "FloatConverter":
        return 1.0
    if name == "AnyConverter":
        return sorted(converter.items)[0]
    if name == "UUIDConverter":
        return "00000000-0000-0000-0000-000000000000"
    return "x"


def line_tab_requests(app, ids):
    """(endpoint, method, url) of every LINE-tab endpoint: the line_tab blueprint, and customers.show with tab=line.

    Each value of an `any(...)` argument (an export's formats) is a request of its own.
    """
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("line_tab."):
            values = {arg: _value(conv, arg, ids) for arg, conv in rule._converters.items()}
            choices = {arg: sorted(conv.items) for arg, conv in rule._converters.items()
                       if type(conv).__name__ == "AnyConverter"}
            for arg, items in choices.items():
                for item in items[1:]:
                    url = app.url_map.bind("localhost").build(rule.endpoint, {**values, arg: item}, append_unknown=False)
                    found += [(rule.endpoint, method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
        elif rule.endpoint == "customers.show" and "tab" in rule.arguments:
            values = {"customer_id": ids["customer_id"], "tab": "line"}
        else:
            continue
        url = app.url_map.bind("localhost").build(rule.endpoint, values, append_unknown=False)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


def _shop_without_premium(kind):
    if kind == "basic":
        return make_shop(plan=Plan.BASIC)
    shop, owner = make_shop(plan=Plan.TRIAL)
    shop.plan_until = utcnow() - timedelta(days=1)
    _db.session.flush()
    return shop, owner


@pytest.mark.parametrize("kind", ["basic", "ended_trial"])
@pytest.mark.parametrize("as_owner", [True, False], ids=["owner", "staff"])
def test_every_line_tab_endpoint_answers_403_with_how_to_upgrade(app, client, auth, db, kind, as_owner):
    shop, owner = _shop_without_premium(kind)
    customer = make_customer(shop)
    friend = make_friend(shop, customer=customer)
    member = owner if as_owner else make_staff(shop)
    auth.login(member)
    ids = {"customer_id": customer.id, "friend_id": friend.id}
    requests = line_tab_requests(app, ids)
    endpoints = {endpoint for endpoint, _m, _u in requests}
    assert "customers.show" in endpoints and "line_tab.send" in endpoints
    assert len(endpoints) >= 2
    token = client.csrf_token()
    for endpoint, method, url in requests:
        for headers in ({}, {"HX-Request": "true"}):
            response = client.open(url, method=method, headers=headers,
                                   data={"csrf_token": token, "text": "こんにちは"} if method != "GET" else None)
            assert response.status_code == 403, f"{method} {url} ({endpoint}) answered {response.status_code}"
            html = response.get_data(as_text=True)
            assert PREMIUM_TEXT in html, f"{method} {url}: no explanation"
            if as_owner:
                assert "/settings/plan" in html, f"{method} {url}: no way to upgrade"


def test_the_same_endpoints_work_for_premium_and_a_running_trial(app, client, auth, db):
    for plan in (Plan.PREMIUM, Plan.TRIAL):
        shop, owner = make_shop(plan=plan)
        if plan == Plan.TRIAL:
            shop.plan_until = utcnow() + timedelta(days=3)
        customer = make_customer(shop)
        make_friend(shop, customer=customer)
        _db.session.flush()
        auth.login(owner)
        assert client.get(f"/customers/{customer.id}/line").status_code == 200
        auth.logout()


def test_a_basic_shop_still_sees_the_friends_line_name_in_the_ledger(app, client, auth, db):
    shop, owner = make_shop(plan=Plan.BASIC)
    customer = make_customer(shop, family_name="青木")
    make_friend(shop, customer=customer, display_name="あおきLINE")
    auth.login(owner)
    html = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "あおきLINE" in html


def test_signed_out_visitors_are_sent_to_sign_in_first(app, client, db):
    shop, owner = make_shop(plan=Plan.BASIC)
    customer = make_customer(shop)
    make_friend(shop, customer=customer)
    for endpoint, method, url in line_tab_requests(app, {"customer_id": customer.id}):
        if method == "GET":
            assert client.get(url).status_code in (302, 401), url
