"""The digest tick on rq's cron scheduler (a real Redis), and `flask crm tick-digests`."""
import json
from datetime import timedelta

import pytest
from rq import Queue
from rq.cron import CronScheduler

from crm.digests.tasks import register_cron
from tests.digests.conftest import make_unread, utc
from tests.factories import make_shop


@pytest.fixture
def redis(rq_queue):
    """Redis with a queue of this test's own (tests.plugins.redis_db)."""
    return rq_queue


def test_the_cron_scheduler_enqueues_the_tick_every_minute(app, db, redis):
    from crm.jobs import run_job

    scheduler = CronScheduler(connection=redis, name="test-cron")
    with app.app_context():
        cron_job = register_cron(scheduler)
    assert cron_job.cron == "* * * * *"
    assert cron_job.get_next_enqueue_time() - cron_job.get_next_enqueue_time().replace(second=0, microsecond=0) == timedelta(0)
    cron_job.next_enqueue_time = cron_job.next_enqueue_time - timedelta(minutes=1)  # the minute has come
    assert scheduler.enqueue_jobs() == [cron_job]
    queue = Queue(app.config["RQ_QUEUE"], connection=redis)
    [job] = queue.jobs
    assert job.func_name == "crm.jobs.run_worker_job" and job.args == ("crm.digests.tasks.tick_job",)
    job.delete()
    assert set(run_job(*job.args)) >= {"runs", "sends", "skipped"}  # what a worker runs


def test_tick_digests_command_is_idempotent(app, db):
    shop, owner = make_shop()
    make_unread(shop, utc(2025, 3, 2, 22, 0))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["crm", "tick-digests", "--now", "2025-03-03T08:00:30+09:00"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["sends"] == 1
    again = runner.invoke(args=["crm", "tick-digests", "--now", "2025-03-03T08:00:30+09:00"])
    assert json.loads(again.output)["sends"] == 0
    assert runner.invoke(args=["crm", "tick-digests", "--now", "2025-03-03T08:00"]).exit_code != 0
