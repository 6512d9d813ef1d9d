"""Walks the URL map: every route is public by name or refuses a signed-out visitor, and every
state-changing route refuses a request without its CSRF token."""
import pytest

from tests.security.inventory import CSRF_EXEMPT, ID_ARGS, PUBLIC, routes

_VALUES = {"tab": "line", "kind": "csv", "key": "x", "token": "x", "filename": "x.js", "name": "htmx.min.js"}


def _url(app, route, signed_in_ids=None):
    values = {arg: (signed_in_ids or {}).get(arg, 1) if arg in ID_ARGS else _VALUES.get(arg, "x")
              for arg in route.arguments}
    return app.url_map.bind("localhost").build(route.endpoint, values, append_unknown=False)


def test_the_inventory_names_only_real_routes(app):
    endpoints = {r.endpoint for r in routes(app)}
    assert set(PUBLIC) <= endpoints and CSRF_EXEMPT <= endpoints
    assert {arg for r in routes(app) for arg in r.tenant_ids} <= ID_ARGS, "a new kind of id: add it to tenancy"


def test_every_route_but_the_public_ones_sends_a_signed_out_visitor_to_sign_in(app, client):
    checked = 0
    for route in routes(app):
        if route.public:
            continue
        url = _url(app, route)
        for method in route.methods:
            headers = {"X-CSRFToken": client.csrf_token()} if method != "GET" else {}
            response = client.open(url, method=method, headers=headers)
            assert response.status_code in (302, 401), f"{method} {url} ({route.endpoint}): {response.status_code}"
            if response.status_code == 302:
                assert "/login" in response.headers["Location"], f"{method} {url}"
            checked += 1
    assert checked > 40


@pytest.mark.parametrize("variant", ["no token", "wrong token", "token of another session"])
def test_every_state_changing_route_refuses_a_request_without_its_csrf_token(app, client, auth, shop, variant):
    owner = shop[1]
    auth.login(owner)
    other = app.test_client()
    foreign_token = other.csrf_token() if hasattr(other, "csrf_token") else "x"
    checked = 0
    for route in routes(app):
        if not route.state_changing or route.endpoint in CSRF_EXEMPT or route.endpoint == "staff.login":
            continue
        url = _url(app, route)
        for method in route.state_changing:
            data = {} if variant == "no token" else {
                "csrf_token": "forged" if variant == "wrong token" else foreign_token}
            for headers in ({}, {"HX-Request": "true"}):
                response = client.open(url, method=method, data=data, headers=headers)
                assert response.status_code == 400, f"{method} {url} ({variant}): {response.status_code}"
                checked += 1
    assert checked > 60
