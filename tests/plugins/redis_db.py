"""Pytest plugin: each test run gets a Redis database of its own.

Several suites may run on one machine at once (two checkouts, CI beside a
developer).  Tests that simulate a Redis loss call FLUSHDB, and rate-limit
resets clear their keys, so sharing a database lets one run disturb another.
At start-up the run claims a free database number (1-15) with ``SET NX`` in
database 0, keeps the claim while it runs, and releases it at the end; a run
that was killed loses its claim when the key expires.

Every Redis URL the tests read (``TEST_REDIS_URL``, ``TEST_SCHEDULE_REDIS_URL``,
``TEST_FAULTS_REDIS_URL``, ``TEST_RATELIMIT_STORAGE_URI`` when it points at
Redis) is set to the claimed database before any test module is imported.
The server is the one ``TEST_REDIS_URL`` names, else 127.0.0.1:6379.

Tests reach it through one place: ``redis_url()``, the ``redis_client``
fixture, and ``rq_queue`` (the app's rq queue, one of the test's own).
"""
from __future__ import annotations

import os
import socket
import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis import Redis
from redis.exceptions import RedisError

CLAIM_SECONDS = 3 * 60 * 60
_VARIABLES = ("TEST_REDIS_URL", "TEST_SCHEDULE_REDIS_URL", "TEST_FAULTS_REDIS_URL")


def _with_db(url: str, number: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, ""))


class RedisClaim:
    """A database number held by this run, renewed in the background."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.control = Redis.from_url(_with_db(base_url, 0), socket_connect_timeout=1)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.number: int | None = None
        self._stop = threading.Event()

    def claim(self) -> int | None:
        for number in range(15, 0, -1):
            if self.control.set(f"crm-tests:db:{number}", self.owner, nx=True, ex=CLAIM_SECONDS):
                self.number = number
                threading.Thread(target=self._renew, name="redis-claim", daemon=True).start()
                return number
        return None

    def _renew(self):
        while not self._stop.wait(60):
            try:
                self.control.expire(f"crm-tests:db:{self.number}", CLAIM_SECONDS)
            except RedisError:
                pass

    def release(self):
        self._stop.set()
        if self.number is None:
            return
        key = f"crm-tests:db:{self.number}"
        try:
            if self.control.get(key) == self.owner.encode():
                self.control.delete(key)
        except RedisError:
            pass


def pytest_configure(config):
    base = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    claim = RedisClaim(base)
    try:
        number = claim.claim()
    except RedisError:
        return  # no Redis here: the tests that need it say so themselves
    if number is None:
        raise pytest.UsageError("every Redis database 1-15 is claimed by other test runs (keys crm-tests:db:* in db 0)")
    config._redis_claim = claim
    url = _with_db(base, number)
    for name in _VARIABLES:
        os.environ[name] = url
    if os.environ.get("TEST_RATELIMIT_STORAGE_URI", "").startswith("redis"):
        os.environ["TEST_RATELIMIT_STORAGE_URI"] = url


def pytest_unconfigure(config):
    claim = getattr(config, "_redis_claim", None)
    if claim is not None:
        claim.release()


def pytest_report_header(config):
    claim = getattr(config, "_redis_claim", None)
    return f"redis: this run's own database {claim.number}" if claim else None


def redis_url() -> str:
    """This run's own Redis database (claimed at start-up); every test that talks to Redis uses it."""
    return os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_client():
    """A client of this run's Redis database, closed after the test."""
    client = Redis.from_url(redis_url())
    yield client
    client.close()


@pytest.fixture
def rq_queue(app, redis_client, monkeypatch):
    """The app's rq queue on this run's Redis, a queue of the test's own (its keys removed after); yields the client.

    JOBS_MODE stays as it is: a test that wants the app to enqueue to rq sets it.
    """
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url())
    monkeypatch.setitem(app.config, "RQ_QUEUE", f"test-{uuid.uuid4().hex[:8]}")
    yield redis_client
    for key in redis_client.scan_iter(f"*{app.config['RQ_QUEUE']}*"):
        redis_client.delete(key)
