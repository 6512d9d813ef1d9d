"""The in-process ticker of the embedded default (no Redis): the periodic jobs `flask crm cron` runs under rq.

Part of the app's assembly: it runs the LINE tick (送信予約, sweeps) of
crm/line_tab, the broadcasts' tick (crm/broadcasts), the customer imports' sweep and the digest tick of crm/digests, so it sits above both.
"""
import threading

from crm import jobs
from crm.broadcasts.services import tick as broadcast_tick
from crm.customers.import_jobs import sweep_stalled as sweep_stalled_imports
from crm.digests.tasks import tick_job as digest_tick
from crm.line_tab.scheduling import tick


def tick_seconds(app):
    """LINE_TICK_SECONDS: the in-process ticker's period (5 s by default; 0 turns it off)."""
    return float(app.config["LINE_TICK_SECONDS"])


class Ticker:
    """The in-process stand-in for rq's cron: tick() every few seconds, the digest tick once a minute."""

    def __init__(self, app, interval):
        self.line = jobs.Repeating(app, tick, interval, name="crm-line-ticker")
        self.broadcasts = jobs.Repeating(app, broadcast_tick, interval, name="crm-broadcast-ticker")  # 一斉配信
        self.imports = jobs.Repeating(app, sweep_stalled_imports, interval, name="crm-import-ticker")  # CSV 取り込み
        # Checked as often as the tick, run once per minute as the cron's "* * * * *"; the
        # digest_runs/digest_sends unique rows make a second process's run send nothing.
        self.digests = jobs.Repeating(app, digest_tick, interval, name="crm-digest-ticker", per_minute=True)
        self.stopped = self.line.stopped

    def start(self):
        self.line.start()
        self.broadcasts.start()
        self.imports.start()
        self.digests.start()
        return self

    def stop(self):
        self.digests.stopped.set()
        self.line.stop()
        self.broadcasts.stop()
        self.imports.stop()
        self.digests.stop()


def start_ticker(app, interval=None):
    """Run tick() every few seconds and the digest tick every minute in daemon threads; returns them (``.stop()``)."""
    return Ticker(app, interval or tick_seconds(app) or 5).start()


def init_ticker(app):
    """With in-process jobs (no Redis; not in tests), start the ticker with the server's first request.

    It runs the same periodic jobs as `flask crm cron`: `tick` and the digest tick.
    Several web processes each tick: harmless, both are idempotent (the database decides).
    """
    if app.testing or app.config.get("JOBS_MODE") != "thread" or not tick_seconds(app):
        return
    lock, started = threading.Lock(), []

    @app.before_request
    def _start_line_ticker():
        if not started:
            with lock:
                if not started:
                    started.append(start_ticker(app))
