"""Real rq worker processes for the fault tests, on a scratch database of their own.

A worker is a separate process (``flask --app wsgi crm worker``), so a fault test
cannot use the rolled-back transaction of the ``db`` fixture: ``scratch_database_url``
is a database built by the migrations (beside TEST_DATABASE_URL's on PostgreSQL,
else a SQLite file), and ``fault_app`` is an app on it with rq on this run's own
Redis db (tests.plugins.redis_db).

Under ``--now`` the test process runs on a pinned clock; the worker is started on
the same clock (tests/worker_main.py), or a lease written by the worker and
judged by the test's tick would be hours or months apart.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from crm import create_app
from crm.config import TestingConfig
from tests.plugins.redis_db import redis_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch_database_url(tmp_path):
    """A database of this test's own that other processes can open; dropped afterwards."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'faults.sqlite3'}"
        return
    url = sa.engine.make_url(base)
    name = f"{url.database}_rq_faults"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def fault_app(scratch_database_url, line_sandbox):
    """The test process's app on the scratch database, with rq and the sandbox (not yet migrated)."""

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = scratch_database_url
        JOBS_MODE = "rq"
        REDIS_URL = redis_url()
        LINE_API_BASE_URL = line_sandbox.url

    return create_app(Config)


def worker_env(database_url: str, line_api_url: str, **settings: str) -> dict[str, str]:
    """The environment of a production worker on the scratch database, the run's Redis and the sandbox."""
    return {**os.environ, "CRM_ENV": "production", "SECRET_KEY": "faults-secret", "DATABASE_URL": database_url,
            "CREDENTIALS_KEYS": TestingConfig.CREDENTIALS_KEYS, "REDIS_URL": redis_url(), "JOBS_MODE": "rq",
            "LINE_API_BASE_URL": line_api_url, "LINE_API_TIMEOUT": "5", "PYTHONPATH": str(ROOT), **settings}


def clock_offset() -> float:
    """Seconds between this process's clock (pinned by --now) and the real one; 0 when not pinned."""
    if not time_machine.escape_hatch.is_travelling():
        return 0.0
    return time.time() - time_machine.escape_hatch.time.time()


class RqWorker:
    """`flask --app wsgi crm worker` in its own process group, on this process's clock."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        env = {**env, "CRM_TEST_CLOCK_OFFSET": repr(clock_offset())}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.worker_main", "--app", "wsgi", "crm", "worker"], cwd=ROOT, env=env,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL, no warm shutdown: the worker dies in the middle of whatever it does."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()

    def output(self) -> str:
        """The end of what the worker printed, for an assertion's message."""
        return self.log_path.read_text(errors="replace")[-3000:]
