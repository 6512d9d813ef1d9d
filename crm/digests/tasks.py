"""Jobs: the digest tick (every minute, from rq's cron scheduler) and the staff rich menu sync."""
import logging

from flask import current_app

from crm import jobs, signals
from crm.conversations.models import LineFriend
from crm.database import utcnow
from crm.digests import line_notify
from crm.digests.instant import send_due
from crm.digests.richmenu import sync_rich_menus
from crm.digests.services import run_digest_tick
from crm.jobs import job_path, run_worker_job

log = logging.getLogger(__name__)


def tick_job():
    """Job: one digest tick at the current time (run by crm.jobs.run_job, which commits)."""
    now = utcnow()
    result = run_digest_tick(now)
    instant = send_due(now)  # 新着の通知 batched into the minute that just ended
    log.info("digest tick: %s, instant: %d", result.as_dict(), instant)
    return result.as_dict()


def sync_menus_job():
    """Job: after read-state changes, link the staff rich menus that no longer match."""
    return sync_rich_menus(utcnow())


@signals.read_state_changed.connect
def sync_menus_after_commit(friend: LineFriend, **_: object) -> None:
    """A conversation became unread or read: sync the staff rich menus once, after the commit."""
    if line_notify.configured():
        jobs.enqueue_once_after_commit(sync_menus_job)


def register_cron(scheduler, queue_name=None):
    """Register the digest tick on an rq CronScheduler: every minute, through crm.jobs.run_worker_job."""
    queue_name = queue_name or current_app.config.get("RQ_QUEUE") or "default"
    return scheduler.register(run_worker_job, queue_name, args=(job_path(tick_job),), cron="* * * * *",
                              job_timeout=current_app.config.get("DIGEST_TICK_TIMEOUT", 600), name="digest-tick")
