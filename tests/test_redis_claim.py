"""Each test run has a Redis database of its own (tests/plugins/redis_db.py)."""
import os

import pytest
from redis import Redis

from tests.plugins.redis_db import RedisClaim


def _redis_or_skip():
    client = Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1)
    try:
        client.ping()
    except Exception:  # noqa: BLE001 - no server on this machine
        if os.environ.get("CI"):
            raise  # CI starts Redis (.ci/run): a missing server there is a failure, not a skip
        pytest.skip("no Redis on 127.0.0.1:6379")
    return client


def test_this_run_uses_the_database_it_claimed(request):
    client = _redis_or_skip()
    claim = request.config._redis_claim
    assert client.get(f"crm-tests:db:{claim.number}") == claim.owner.encode()
    assert os.environ["TEST_REDIS_URL"].endswith(f"/{claim.number}")
    assert os.environ["TEST_FAULTS_REDIS_URL"] == os.environ["TEST_REDIS_URL"]


def test_two_runs_never_share_a_database():
    _redis_or_skip()
    first, second = RedisClaim("redis://127.0.0.1:6379/0"), RedisClaim("redis://127.0.0.1:6379/0")
    second.owner = first.owner + "-other"
    try:
        a, b = first.claim(), second.claim()
        assert a and b and a != b
    finally:
        first.release()
        second.release()
    assert first.control.get(f"crm-tests:db:{a}") is None
