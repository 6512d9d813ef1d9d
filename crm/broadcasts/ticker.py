"""The broadcasts' tick on rq's cron (`flask crm cron`); `flask crm tick` and the in-process ticker
(crm/ticker.py) run services.tick too.
"""
from flask import current_app
from rq.cron import CronJob, CronScheduler

from crm import jobs
from crm.broadcasts.services import tick
from crm.jobs import run_worker_job


def register_cron(scheduler: CronScheduler, queue_name: str | None = None, interval: int = 60) -> CronJob:
    """Register the broadcasts' tick on an rq CronScheduler, every minute."""
    queue_name = queue_name or current_app.config.get("RQ_QUEUE") or "default"
    return scheduler.register(run_worker_job, queue_name, args=(jobs.job_path(tick),), interval=interval,
                              job_timeout=600, name="broadcast-tick")
