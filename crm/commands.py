"""Operator commands: `flask --app wsgi crm ...`."""
import json

import click
from flask import current_app
from flask.cli import AppGroup

from crm import job_watch, jobs
from crm.bookings.demo import seed_booking_demo
from crm.broadcasts import services as broadcasts
from crm.broadcasts.ticker import register_cron as register_broadcast_tick
from crm.customers.import_jobs import sweep_stalled as sweep_stalled_imports
from crm.demo import connect_demo_to_sandbox, seed_demo
from crm.digests import line_notify
from crm.digests.services import run_digest_tick
from crm.digests.tasks import register_cron
from crm.extensions import db
from crm.jobs import redis_connection, run_worker_job
from crm.line_platform.drain import sweep_unprocessed
from crm.line_platform.sending import sweep_outgoing
from crm.line_platform.services import channel_for_shop, save_channel
from crm.line_platform.watcher import start_watcher
from crm.line_tab.scheduling import register_cron as register_line_tick
from crm.line_tab.scheduling import tick, watch_jobs
from crm.plans.services import PlanError, end_of_day, set_plan
from crm.shops.models import Plan, Shop
from crm.shops.plans import line_tab_available
from crm.staff.onboarding import create_shop
from crm.staff.passwords import MIN_PASSWORD_LENGTH
from crm.staff.services import StaffError
from crm.storage.cli import check_storage_command
from crm.urls import external_url

crm_cli = AppGroup("crm", help="Operator commands for the salon customer ledger.")
crm_cli.add_command(check_storage_command)


@crm_cli.command("create-shop")
@click.option("--name", required=True, help="The shop's name.")
@click.option("--owner-email", required=True)
@click.option("--owner-password", required=True)
@click.option("--owner-name", default=None)
@click.option("--plan", type=click.Choice([p.value for p in Plan]), default=Plan.BASIC.value, show_default=True)
@click.option("--timezone", default="Asia/Tokyo", show_default=True)
@click.option("--line-channel-id", default=None, help="Messaging API channel ID.")
@click.option("--line-channel-secret", default=None)
@click.option("--line-channel-access-token", default=None)
def create_shop_command(name, owner_email, owner_password, owner_name, plan, timezone,
                        line_channel_id, line_channel_secret, line_channel_access_token):
    """Create a shop with its owner account; prints one JSON object."""
    from flask import url_for


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
    channel = channel_for_shop(shop.id)
    if line_channel_secret or line_channel_access_token:
        if not (line_channel_id and line_channel_secret and line_channel_access_token):
            db.session.rollback()
            raise click.UsageError("give all of --line-channel-id, --line-channel-secret, --line-channel-access-token")
        save_channel(channel, line_channel_id, line_channel_secret, line_channel_access_token)
    db.session.commit()
    with current_app.test_request_context():
        webhook_path = url_for("line_platform.webhook", key=channel.webhook_key)
    click.echo(
        json.dumps(
            {
                "shop_id": shop.id,
                "name": shop.name,
                "plan": shop.plan.value,
                "timezone": shop.timezone,
                "owner_id": owner.id,
                "owner_email": owner.email,
                "webhook_path": webhook_path,
            },
            ensure_ascii=False,
        )
    )


@crm_cli.command("seed-demo")
@click.option("--customers", default=50, show_default=True, help="How many demo customers.")
@click.option("--line-sandbox", "sandbox_url", default=None, help="Connect the demo salon to this LINE sandbox.")
@click.option("--public-url", default="http://127.0.0.1:5000", show_default=True, help="Where the sandbox reaches the app.")
def seed_demo_command(customers, sandbox_url, public_url):
    """Create (or reuse) the demo salon with customers and LINE friends; prints the owner's sign-in."""
    result = seed_demo(customer_count=customers)
    if not sandbox_url:
        seed_booking_demo(db.session.get(Shop, result["shop_id"]))
    if sandbox_url:
        with current_app.test_request_context():
            result["line"] = connect_demo_to_sandbox(result["shop_id"], sandbox_url, public_url)
    db.session.commit()
    click.echo(json.dumps(result, ensure_ascii=False))


@crm_cli.command("sweep")
def sweep_command():
    """Re-enqueue webhook events and outgoing messages whose jobs were lost; run every minute."""
    events = sweep_unprocessed()
    messages = sweep_outgoing()
    jobs.commit()
    click.echo(f"webhook deliveries and events waiting: {events}; messages re-enqueued: {messages}")


@crm_cli.command("tick")
def tick_command():
    """Release due scheduled LINE messages, re-enqueue lost deliveries and events; idempotent, run every minute."""
    result = tick()
    result.update(broadcasts.tick())
    result["imports_resumed"] = sweep_stalled_imports()
    jobs.commit()
    click.echo(json.dumps(result))


@crm_cli.command("scheduler")
def scheduler_command():
    """The same as `crm cron`: rq's cron scheduler with every periodic job."""
    cron_command.callback()


@crm_cli.command("worker")
@click.argument("queues", nargs=-1)
def worker_command(queues):
    """Run an rq worker with the app context (needs REDIS_URL)."""
    from rq import SimpleWorker


    # SimpleWorker runs jobs in this process, inside the CLI's app context, so
    # no forked child inherits the database pool's connections.
    worker = SimpleWorker(list(queues) or [current_app.config["RQ_QUEUE"]], connection=redis_connection())
    app = current_app._get_current_object()
    watcher = start_watcher(app)  # queues drains for webhook deliveries
    # Jobs lost (Redis emptied, another worker killed): the recovery at once, not at the next minute.
    losses = jobs.Repeating(app, watch_jobs, float(app.config["REDIS_WATCH_SECONDS"]), name="crm-job-watch").start()
    try:
        worker.work(with_scheduler=True)
    finally:
        losses.stop()
        watcher.stop()
        job_watch.worker_leaving()


@crm_cli.command("set-plan")
@click.argument("shop_id", type=int)
@click.argument("plan", type=click.Choice([p.value for p in Plan]))
@click.option("--until", "until", default=None, help="A trial's last day (YYYY-MM-DD, the shop's timezone).")
def set_plan_command(shop_id, plan, until):
    """Change a shop's plan; losing the LINE tab holds its scheduled messages (保留). Prints JSON."""
    from datetime import date


    shop = db.session.get(Shop, shop_id)
    if shop is None:
        raise click.ClickException(f"no shop {shop_id}")
    until_at = None
    if until:
        try:
            until_at = end_of_day(date.fromisoformat(until), shop.timezone)
        except ValueError as exc:
            raise click.BadParameter("YYYY-MM-DD", param_hint="--until") from exc
    try:
        held = set_plan(shop, plan, until_at)
    except PlanError as exc:
        db.session.rollback()
        raise click.UsageError(str(exc)) from exc
    db.session.commit()
    click.echo(json.dumps({"shop_id": shop.id, "plan": shop.plan.value,
                           "plan_until": shop.plan_until.isoformat() if shop.plan_until else None,
                           "line_tab": line_tab_available(shop), "held": held}))


@crm_cli.command("tick-digests")
@click.option("--now", default=None, help="Pretend it is this time (ISO 8601 with offset); for operators and tests.")
def tick_digests_command(now):
    """Send the due 8:00/20:00 digests of unread LINE messages; idempotent, run every minute."""
    from datetime import datetime


    at = datetime.fromisoformat(now) if now else None
    if at is not None and at.tzinfo is None:
        raise click.BadParameter("give an offset, e.g. 2025-03-01T08:00:00+09:00", param_hint="--now")
    result = run_digest_tick(at)
    click.echo(json.dumps(result.as_dict()))


@crm_cli.command("notify-setup")
def notify_setup_command():
    """Create the staff rich menus on the notification channel and point its webhook at this app."""
    if not line_notify.configured():
        raise click.ClickException("set NOTIFY_LINE_CHANNEL_ID, NOTIFY_LINE_CHANNEL_SECRET, NOTIFY_LINE_CHANNEL_ACCESS_TOKEN")
    with current_app.test_request_context():
        menus = line_notify.setup(external_url("customers.index"), external_url("digests.notifications"),
                                  external_url("digests.notify_webhook"))
    db.session.commit()
    click.echo(json.dumps(menus))


@crm_cli.command("cron")
def cron_command():
    """Run rq's cron scheduler with the periodic jobs (the digest tick and `crm tick` every minute); needs REDIS_URL.

    Run one or more (duplicates are harmless: each digest is sent once, each message too) next to `flask crm worker`.
    """
    from rq.cron import CronScheduler


    scheduler = CronScheduler(connection=redis_connection())
    register_cron(scheduler)
    register_line_tick(scheduler)
    register_broadcast_tick(scheduler)
    scheduler.register(run_worker_job, current_app.config.get("RQ_QUEUE") or "default",
                       args=(jobs.job_path(sweep_stalled_imports),), interval=60, job_timeout=600,
                       name="customer-import-sweep")
    scheduler.start()
