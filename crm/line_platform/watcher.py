"""With rq, each worker process watches PostgreSQL for kept webhook deliveries and queues the drain.

The webhook request then only keeps the body (one INSERT) and asks nothing of
Redis: it answers LINE as fast as PostgreSQL commits, and keeps answering while
Redis is down. A poll is one indexed query that finds no row most of the time;
events reach the LINE tab within a poll interval (plus the drain), well inside
the tab's own 2-second refresh. The minute's tick (`sweep_unprocessed`) queues
drains too, for deliveries whose drain failed and when no worker watches.
"""
import sqlalchemy as sa

from crm import jobs
from crm.extensions import db
from crm.line_platform.drain import DRAIN_FLAG, drain_events
from crm.line_platform.models import LineWebhookDelivery


def watch_deliveries():
    """Job: queue a drain if a delivery waits that no drain has tried yet; returns whether one waits."""
    waiting = db.session.scalar(
        sa.select(LineWebhookDelivery.id).where(LineWebhookDelivery.attempts == 0).limit(1)
    ) is not None
    if waiting:
        # At most one drain waits at a time (Redis SET NX): polls while it waits cost nothing more.
        jobs.request_drain(DRAIN_FLAG, drain_events)
    return waiting


def start_watcher(app):
    """Poll every DELIVERY_POLL_SECONDS in a daemon thread of this worker process; returns it (``.stop()``)."""
    interval = float(app.config.get("DELIVERY_POLL_SECONDS") or 0.25)
    return jobs.Repeating(app, watch_deliveries, interval, name="crm-line-deliveries").start()
