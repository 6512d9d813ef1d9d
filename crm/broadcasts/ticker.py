"""The broadcasts' share of the periodic tick: in-process (no Redis), and on rq's cron (`flask crm cron`).

`flask crm tick` runs services.tick too (crm/commands.py).
"""
import threading

from flask import current_app

from crm import jobs
from crm.broadcasts.services import tick
from crm.jobs import run_worker_job


def register_cron(scheduler, queue_name=None, interval=60):
    """Register the broadcasts' tick on an rq CronScheduler, every minute."""
    queue_name = queue_name or current_app.config.get("RQ_QUEUE") or "default"
    return scheduler.register(run_worker_job, queue_name, args=(jobs.job_path(tick),), interval=interval,
                              job_timeout=600, name="broadcast-tick")


def init_ticker(app):
    """With in-process jobs (no Redis; not in tests), tick every few seconds from the first request on."""
    seconds = float(app.config.get("LINE_TICK_SECONDS") or 5)
    if app.testing or app.config.get("JOBS_MODE") != "thread" or not seconds:
        return
    lock, started = threading.Lock(), []

    @app.before_request
    def _start_broadcast_ticker():
        if not started:
            with lock:
                if not started:
                    started.append(jobs.Repeating(app, tick, seconds, name="crm-broadcast-ticker").start())
