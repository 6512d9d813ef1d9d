"""配信停止 on the customer: set on the record by owner or staff, shown in the ledger."""
from datetime import datetime, timezone

import pytest
import time_machine

from crm.customers import services
from crm.extensions import db as _db
from tests.factories import make_customer, make_staff

NOW = datetime(2026, 12, 3, 4, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("as_owner", [True, False], ids=["owner", "staff"])
@time_machine.travel(NOW, tick=False)
def test_opt_out_on_the_record_then_back(client, auth, shop, as_owner):
    s, owner = shop
    auth.login(owner if as_owner else make_staff(s))
    customer = make_customer(s)
    assert "配信停止にする" in client.get(f"/customers/{customer.id}").get_data(as_text=True)
    response = client.post_form(f"/customers/{customer.id}/opt-out", {"opt_out": "1"},
                                headers={"HX-Request": "true", "HX-Target": "customer-opt-out"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<div id="customer-opt-out"')
    assert "2026/12/03 13:00 から一斉配信を送りません" in html  # shown in the shop's timezone
    _db.session.refresh(customer)
    assert customer.broadcast_opt_out and customer.broadcast_opt_out_at == NOW
    # the ledger shows the badge
    assert '<span class="badge badge-opt-out">配信停止</span>' in client.get("/customers/").get_data(as_text=True)
    # a repeated "on" keeps the first time
    client.post_form(f"/customers/{customer.id}/opt-out", {"opt_out": "1"})
    _db.session.refresh(customer)
    assert customer.broadcast_opt_out_at == NOW
    response = client.post_form(f"/customers/{customer.id}/opt-out", {"opt_out": "0"})
    assert response.status_code == 302
    _db.session.refresh(customer)
    assert not customer.broadcast_opt_out and customer.broadcast_opt_out_at is None
    assert "badge-opt-out" not in client.get("/customers/").get_data(as_text=True)


def test_set_opt_out_service(db, shop):
    customer = make_customer(shop[0])
    assert customer.broadcast_opt_out is False
    services.set_opt_out(customer, True)
    assert customer.broadcast_opt_out and customer.broadcast_opt_out_at.tzinfo is not None
