"""With rq, each worker's watch of lost jobs: a Redis that lost its keys, a worker killed with the job it had taken.

Each `crm worker` calls ``watch_losses`` every REDIS_WATCH_SECONDS (a thread of
its own, crm/commands.py): it beats in Redis and hears, once for all workers,
of a loss, so the recovery (crm/line_tab/scheduling.py ``recover``) runs within
seconds instead of at the minute's tick.  PostgreSQL still knows every row; this
only makes the sweep come sooner.
"""
import os
import socket
import time

from flask import current_app

from crm.jobs import flag_key, redis_connection

WORKER_BEAT_SECONDS = 5  # a worker's beat lasts this long; its watch renews it every REDIS_WATCH_SECONDS

# Deletes the recheck time only if it is still the one read: a loss noticed meanwhile keeps its own.
_TAKE_RECHECK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _worker_id():
    return f"{socket.gethostname()}:{os.getpid()}"


def watch_losses(recheck_after: float, worker: str | None = None) -> str | None:
    """With rq, each worker's watch, every second: whether queued jobs may have been lost; one caller hears of each.

    * ``"redis"``: Redis holds no mark: it lost its keys (FLUSHALL, FLUSHDB, a restart
      without persistence), and every job with them.  Also once on a Redis that never
      had one (the first worker ever): the recovery then finds little to do.
    * ``"worker"``: a worker stopped beating without leaving (SIGKILL, out of memory, a
      lost machine): the job it had taken is gone.
    * ``"recheck"``: ``recheck_after`` seconds have passed since the last loss (what the
      lost worker had claimed can be taken again).
    * ``None``: nothing to do.

    This worker beats here (``worker``: its id, else host:pid); ``worker_leaving`` on a normal stop.
    """
    if current_app.config["JOBS_MODE"] != "rq":
        return None
    redis, me = redis_connection(), worker or _worker_id()
    workers, recheck = flag_key("workers"), flag_key("recheck-at")
    lost = "redis" if redis.set(flag_key("redis-mark"), "1", nx=True) else None
    pipe = redis.pipeline()
    pipe.set(flag_key(f"beat:{me}"), "1", ex=WORKER_BEAT_SECONDS)
    pipe.sadd(workers, me)
    pipe.smembers(workers)
    others = sorted({m.decode() for m in pipe.execute()[2]} - {me})
    if others:
        pipe = redis.pipeline()
        for other in others:
            pipe.exists(flag_key(f"beat:{other}"))
        for other, alive in zip(others, pipe.execute(), strict=True):
            if not alive and redis.srem(workers, other):
                lost = lost or "worker"
    now = time.time()
    if lost:
        redis.set(recheck, repr(now + recheck_after))
        return lost
    at = redis.get(recheck)
    if at is not None and float(at) <= now and redis.eval(_TAKE_RECHECK, 1, recheck, at):
        return "recheck"
    return None


def worker_leaving(worker: str | None = None) -> None:
    """A worker stopping normally (SIGTERM, Ctrl-C): not to be taken for a lost one."""
    if current_app.config["JOBS_MODE"] != "rq":
        return
    me = worker or _worker_id()
    redis_connection().srem(flag_key("workers"), me)
    redis_connection().delete(flag_key(f"beat:{me}"))
