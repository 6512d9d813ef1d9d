"""Operator commands."""
import json

import sqlalchemy as sa

from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.extensions import db as _db
from crm.shops.models import Plan, Shop
from crm.staff.models import Role, Staff


def _invoke(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_create_shop_prints_json_with_the_shop_id(app, db):
    result = _invoke(app, "crm", "create-shop", "--name", "サロン花", "--owner-email", "Hana@Example.com",
                     "--owner-password", "long-enough-pw", "--plan", "premium")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    shop = _db.session.get(Shop, data["shop_id"])
    assert shop.name == "サロン花" and shop.plan == Plan.PREMIUM and shop.timezone == "Asia/Tokyo"
    owner = _db.session.scalars(sa.select(Staff).where(Staff.shop_id == shop.id)).one()
    assert owner.role == Role.OWNER and owner.email == "hana@example.com" == data["owner_email"]


def test_create_shop_refuses_a_short_password_and_a_taken_email(app, db):
    result = _invoke(app, "crm", "create-shop", "--name", "x", "--owner-email", "a@example.com", "--owner-password", "short")
    assert result.exit_code != 0 and "--owner-password" in result.output
    ok = _invoke(app, "crm", "create-shop", "--name", "x", "--owner-email", "a@example.com", "--owner-password", "long-enough-pw")
    assert ok.exit_code == 0
    again = _invoke(app, "crm", "create-shop", "--name", "y", "--owner-email", "a@example.com", "--owner-password", "long-enough-pw")
    assert again.exit_code != 0 and "既に使われています" in again.output


def test_seed_demo_creates_a_realistic_shop_once(app, db):
    result = _invoke(app, "crm", "seed-demo")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["owner_email"] and data["owner_password"]
    customers = _db.session.scalars(sa.select(Customer).where(Customer.shop_id == data["shop_id"])).all()
    assert len(customers) == 50
    assert all(c.phone_e164 and c.phone_e164.startswith("+81") and c.kana_norm for c in customers)
    linked = _db.session.scalar(
        sa.select(sa.func.count()).select_from(LineFriend).where(
            LineFriend.shop_id == data["shop_id"], LineFriend.customer_id.is_not(None)
        )
    )
    assert 10 <= linked < 50

    rerun = _invoke(app, "crm", "seed-demo")
    assert json.loads(rerun.output)["shop_id"] == data["shop_id"]
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Shop)) == 1
