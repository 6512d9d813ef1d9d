"""Every LINE endpoint refuses a shop without premium: walked from the app's URL map, so none is left ungated.

The line_tab, line_platform and linking blueprints are gated whole
(crm/plans/gate.py); the few routes open to every plan are named there with
the reason, and the walk fails on a route that is neither.
"""
from datetime import timedelta

import pytest

from crm.database import utcnow
from crm.extensions import db as _db
from crm.plans.gate import GATED_BLUEPRINTS, PLAN_FREE
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
        if rule.endpoint.split(".")[0] in GATED_BLUEPRINTS and rule.endpoint not in PLAN_FREE:
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
    assert {"line_tab.friend", "line_platform.media", "line_tab.unlinked_friends",
            "linking.resolve", "linking.link_existing"} <= endpoints
    token = client.csrf_token()
    for endpoint, method, url in requests:
        for headers in ({}, {"HX-Request": "true"}):
            response = client.open(url, method=method, headers=headers,
                                   data={"csrf_token": token, "text": "こんにちは"} if method != "GET" else None)
            html = response.get_data(as_text=True)
            if endpoint == "customers.show":
                # The record with its tabs; the LINE tab explains the premium plan and shows no LINE content.
                assert response.status_code == 200 and 'role="tab"' in html and "premium-explainer" in html
                assert "line-conversation" not in html and "composer" not in html
                continue
            assert response.status_code == 403, f"{method} {url} ({endpoint}) answered {response.status_code}"
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
    for _endpoint, method, url in line_tab_requests(app, {"customer_id": customer.id}):
        if method == "GET":
            assert client.get(url).status_code in (302, 401), url


def test_every_route_of_a_gated_blueprint_is_gated_or_named_open_with_a_reason(app):
    rules = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(PLAN_FREE) <= rules, "PLAN_FREE names a route that does not exist"
    assert all(reason.strip() for reason in PLAN_FREE.values())
    gated = {endpoint for endpoint, _m, _u in line_tab_requests(app, {"customer_id": 1})}
    for endpoint in rules:
        if endpoint.split(".")[0] in GATED_BLUEPRINTS:
            assert endpoint in gated or endpoint in PLAN_FREE, endpoint


def test_unlinking_on_a_basic_plan_does_not_open_the_conversation(app, client, auth, db):
    from crm.conversations.models import Direction, LineMessage

    shop, owner = make_shop(plan=Plan.BASIC)
    customer = make_customer(shop)
    friend = make_friend(shop, customer=customer)
    _db.session.add(LineMessage(shop_id=shop.id, friend_id=friend.id, direction=Direction.INCOMING,
                                message_type="text", text="秘密のご相談です", payload={}))
    _db.session.flush()
    auth.login(owner)
    assert client.post_form(f"/customers/{customer.id}/unlink").status_code == 302
    for url in (f"/line/friends/{friend.id}", "/line/friends/unlinked"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "秘密のご相談です" not in response.get_data(as_text=True)
