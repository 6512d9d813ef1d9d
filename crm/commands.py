"""Operator commands: `flask --app wsgi crm ...`."""
import json

import click
from flask.cli import AppGroup

from crm.extensions import db
from crm.shops.models import Plan
from crm.staff.passwords import MIN_PASSWORD_LENGTH

crm_cli = AppGroup("crm", help="Operator commands for the salon customer ledger.")


@crm_cli.command("create-shop")
@click.option("--name", required=True, help="The shop's name.")
@click.option("--owner-email", required=True)
@click.option("--owner-password", required=True)
@click.option("--owner-name", default=None)
@click.option("--plan", type=click.Choice([p.value for p in Plan]), default=Plan.BASIC.value, show_default=True)
@click.option("--timezone", default="Asia/Tokyo", show_default=True)
def create_shop_command(name, owner_email, owner_password, owner_name, plan, timezone):
    """Create a shop with its owner account; prints one JSON object."""
    from crm.shops.services import create_shop
    from crm.staff.services import StaffError

    if len(owner_password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(f"at least {MIN_PASSWORD_LENGTH} characters", param_hint="--owner-password")
    try:
        shop, owner = create_shop(
            name=name,
            owner_email=owner_email,
            owner_password=owner_password,
            owner_name=owner_name,
            plan=plan,
            timezone=timezone,
        )
    except (StaffError, ValueError) as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(
        json.dumps(
            {
                "shop_id": shop.id,
                "name": shop.name,
                "plan": shop.plan.value,
                "timezone": shop.timezone,
                "owner_id": owner.id,
                "owner_email": owner.email,
            },
            ensure_ascii=False,
        )
    )


@crm_cli.command("seed-demo")
@click.option("--customers", default=50, show_default=True, help="How many demo customers.")
def seed_demo_command(customers):
    """Create (or reuse) the demo salon with customers and LINE friends; prints the owner's sign-in."""
    from crm.demo import seed_demo

    result = seed_demo(customer_count=customers)
    db.session.commit()
    click.echo(json.dumps(result, ensure_ascii=False))
