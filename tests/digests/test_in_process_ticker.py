"""The embedded default (bin/dev, no Redis): the in-process ticker runs the digest tick as rq's cron would."""
from datetime import timedelta

import sqlalchemy as sa

from crm import jobs
from crm import ticker as in_process
from crm.digests.models import DigestRun, Notification, RunStatus
from crm.extensions import db as _db
from tests.digests.conftest import make_unread
from tests.digests.test_digest_tick import TOKYO_0800, salon  # noqa: F401 (the fixture)


def _notifications():
    return _db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(Notification.kind == "digest"))


def test_the_ticker_sends_the_0800_digest_once(app, salon, time_machine):  # noqa: F811
    shop, owner, sato, suzuki = salon
    make_unread(shop, TOKYO_0800 - timedelta(hours=3), count=2)
    _db.session.commit()
    ticker = in_process.Ticker(app, interval=5)  # not started: each check runs here, on the frozen clock

    time_machine.move_to(TOKYO_0800 - timedelta(seconds=30), tick=False)
    assert ticker.digests.run_once()
    assert _notifications() == 0  # 07:59: not yet

    time_machine.move_to(TOKYO_0800 + timedelta(seconds=5), tick=False)
    assert ticker.digests.run_once()
    assert _notifications() == 3  # owner and both staff, in the app
    run = _db.session.scalars(sa.select(DigestRun).where(DigestRun.status == RunStatus.SENT)).one()
    assert (run.shop_id, run.slot, run.status) == (shop.id, "08:00", RunStatus.SENT)

    time_machine.move_to(TOKYO_0800 + timedelta(seconds=40), tick=False)
    assert not ticker.digests.run_once()  # once a minute, as the cron's "* * * * *"

    time_machine.move_to(TOKYO_0800 + timedelta(seconds=65), tick=False)
    assert ticker.digests.run_once()
    another_process = in_process.Ticker(app, interval=5)
    assert another_process.digests.run_once()
    assert _notifications() == 3  # the database decided the slot once: nothing sent twice


def test_the_started_ticker_checks_digests_each_minute_beside_the_line_tick(app, monkeypatch, time_machine):
    time_machine.move_to(TOKYO_0800 + timedelta(seconds=1), tick=False)
    calls = []
    monkeypatch.setattr(jobs, "run_job", lambda path, *args: calls.append(path))
    ticker = in_process.start_ticker(app, interval=0.02)
    try:
        for _ in range(200):
            if calls.count("crm.line_tab.scheduling.tick") >= 5:
                break
            ticker.stopped.wait(0.02)
        assert calls.count("crm.digests.tasks.tick_job") == 1
        time_machine.move_to(TOKYO_0800 + timedelta(seconds=61), tick=False)
        for _ in range(200):
            if calls.count("crm.digests.tasks.tick_job") == 2:
                break
            ticker.stopped.wait(0.02)
    finally:
        ticker.stop()
    assert calls.count("crm.digests.tasks.tick_job") == 2
    assert calls.count("crm.line_tab.scheduling.tick") >= 5


def test_line_tick_seconds_zero_turns_the_ticker_off(app, monkeypatch):
    monkeypatch.setitem(app.config, "LINE_TICK_SECONDS", 0)
    monkeypatch.setenv("LINE_TICK_SECONDS", "5")
    assert in_process.tick_seconds(app) == 0  # the configured 0 wins over the environment's default
