"""One way to run background work: rq on Redis, a thread pool in-process, or at once.

Jobs take ids, not ORM objects, and each job commits once (or rolls back).
PostgreSQL stays the source of truth: a job lost with Redis is found again by
the sweeps that look for unprocessed rows.
"""
import contextvars
import importlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from flask import current_app

from crm.database import utcnow
from crm.extensions import db

log = logging.getLogger(__name__)
_executor = None


# Jobs queued (in rq, or as rows' job names) under a path that has since moved: old path -> new path.
# Keep an entry as long as a queue or a database may still hold the old name.
ALIASES: dict[str, str] = {
    # issue 16: line_platform/events.py became drain.py (drain, split, sweep), handlers.py (on_*) and profiles.py.
    "crm.line_platform.events.drain_events": "crm.line_platform.drain.drain_events",
    "crm.line_platform.events.split_deliveries": "crm.line_platform.drain.split_deliveries",
    "crm.line_platform.events.process_events": "crm.line_platform.drain.process_events",
    "crm.line_platform.events.process_event": "crm.line_platform.drain.process_event",
    "crm.line_platform.events.sweep_unprocessed": "crm.line_platform.drain.sweep_unprocessed",
    "crm.line_platform.events.refresh_profile": "crm.line_platform.profiles.refresh_profile",
}


def job_path(job: Callable[..., Any] | str) -> str:
    """The dotted path rq stores for a job function (a path given as a string is taken as it is)."""
    if isinstance(job, str):
        return job
    path = f"{job.__module__}.{job.__qualname__}"
    if "<" in path:  # a lambda or a nested function: a worker could not import it
        raise ValueError(f"a job must be a module-level function, not {path}")
    return path


def _resolve(path: str) -> Callable[..., Any]:
    path = ALIASES.get(path, path)
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def enqueue_after_commit(job: Callable[..., Any] | str, *args: Any) -> None:
    """Enqueue `job(*args)` once the current transaction has committed, so the job sees its rows."""
    db.session.info.setdefault("pending_jobs", []).append((job_path(job), args))


def enqueue_once_after_commit(job: Callable[..., Any], *args: Any, session: Any = None) -> None:
    """As enqueue_after_commit, unless the same job with the same arguments already waits for this commit.

    `session` is the one an ORM event hands over (the same as db.session in an app context).
    """
    pending = (session or db.session).info.setdefault("pending_jobs", [])
    entry = (job_path(job), args)
    if entry not in pending:
        pending.append(entry)


def take_pending(job: Callable[..., Any]) -> list[tuple]:
    """Remove the calls of `job` waiting for this commit and return their arguments: the caller runs them itself."""
    path, pending = job_path(job), db.session.info.get("pending_jobs", [])
    taken = [args for p, args in pending if p == path]
    if taken:
        db.session.info["pending_jobs"] = [(p, args) for p, args in pending if p != path]
    return taken


def enqueue_at_after_commit(when: Any, job: Callable[..., Any] | str, *args: Any, job_id: str | None = None) -> None:
    """With rq, run `job(*args)` at `when` (rq's scheduler) once the transaction has committed.

    Other modes do nothing: the periodic tick finds the rows that are due.
    A job id makes the same timed job (e.g. one per second) queued once.
    """
    timed = db.session.info.setdefault("pending_timed_jobs", {})
    timed[job_id or object()] = (when, job_path(job), args, job_id)


def commit():
    """Commit the session, then enqueue the jobs that waited for it."""
    db.session.commit()
    pending = db.session.info.pop("pending_jobs", [])
    timed = db.session.info.pop("pending_timed_jobs", {})
    for path, args in pending:
        enqueue(path, *args)
    for when, path, args, job_id in timed.values():
        enqueue_at(when, path, *args, job_id=job_id)


def rollback():
    """Roll back and forget the jobs that depended on the rolled-back rows."""
    db.session.rollback()
    db.session.info.pop("pending_jobs", None)
    db.session.info.pop("pending_timed_jobs", None)


@contextmanager
def savepoint():
    """A nested transaction: on an exception its rows and the jobs queued inside it are dropped, and it propagates.

    For a view that answers an expected failure itself (a form shown again with
    the error beside the field) and must keep using the session.
    """
    pending = list(db.session.info.get("pending_jobs", []))
    timed = dict(db.session.info.get("pending_timed_jobs", {}))
    try:
        with db.session.begin_nested():
            yield
    except BaseException:
        db.session.info["pending_jobs"] = pending
        db.session.info["pending_timed_jobs"] = timed
        raise


def run_job(path, *args):
    """Run a job function (or its dotted path, as rq stores it) with one commit, rolling back on error."""
    try:
        result = _resolve(job_path(path))(*args)
    except Exception:
        rollback()
        raise
    commit()
    return result


def run_worker_job(path, *args):
    """What an rq worker runs: the job, then a fresh session for the next one."""
    try:
        return run_job(path, *args)
    finally:
        db.session.remove()


def _run_in_app(app, path, args):
    with app.app_context():
        try:
            run_job(path, *args)
        except Exception:  # the thread has no caller to tell; the row keeps the state
            log.exception("job %s%r failed", path, args)


def _thread_pool():
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="crm-job")
    return _executor


_redis_clients: dict[str, Any] = {}


def redis_connection():
    """The Redis client of REDIS_URL, one per process (it pools its own connections)."""
    from redis import Redis

    url = current_app.config["REDIS_URL"]
    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients[url] = Redis.from_url(url)
    return client


def queue(name=None):
    """The rq queue jobs go to."""
    name = name or current_app.config["RQ_QUEUE"]
    from rq import Queue

    return Queue(name, connection=redis_connection())


def flag_key(flag):
    """A Redis key of this installation's: namespaced by queue, so installations (and test runs) sharing a Redis
    keep apart."""
    return f"{current_app.config['RQ_QUEUE']}:{flag}"


def request_drain(flag, job):
    """Make sure one drain job `job` is on its way, cheaply: at most one waits at a time.

    With rq, a Redis SET NX is the only cost while a drain is already queued;
    the drain clears the flag before it reads, so rows committed after that
    start a new drain.  The rows themselves are in the database, so a lost
    flag or job costs latency (the sweep picks them up), never data.
    """
    if current_app.config["JOBS_MODE"] != "rq":
        return enqueue(job)
    if redis_connection().set(flag_key(flag), "1", nx=True, ex=60):
        enqueue(job)


def drain_started(flag):
    """Called by a drain job before it reads: later rows must queue a new drain."""
    if current_app.config["JOBS_MODE"] == "rq":
        redis_connection().delete(flag_key(flag))


def enqueue(job, *args, queue_name=None):
    """Run `job(*args)` in the background; call it after the commit that made its rows.

    `job` is a module-level function; rq stores its dotted path (job_path).
    """
    path = job_path(job)
    mode = current_app.config["JOBS_MODE"]
    if mode == "sync":
        return run_job(path, *args)
    if mode == "thread":
        app = current_app._get_current_object()
        # The copied context carries the enqueuing request's id into the job's log lines.
        return _thread_pool().submit(contextvars.copy_context().run, _run_in_app, app, path, args)
    return queue(queue_name).enqueue(run_worker_job, path, *args, job_timeout=600)


def enqueue_at(when, job, *args, job_id=None, queue_name=None):
    """With rq, run `job(*args)` at `when` (aware datetime); a no-op in the other modes."""
    if current_app.config["JOBS_MODE"] != "rq":
        return None
    return queue(queue_name).enqueue_at(when, run_worker_job, job_path(job), *args, job_id=job_id,
                                        job_timeout=600)


class Repeating:
    """Run `job` every `interval` seconds in a daemon thread of this process, each run in its own app context.

    With ``per_minute`` the job runs at most once per wall-clock minute (UTC), in the
    first check after the minute begins: what rq's cron does with ``* * * * *``.
    """

    def __init__(self, app, job, interval, name, per_minute=False):
        self.app, self.path, self.interval, self.per_minute = app, job_path(job), interval, per_minute
        self.last_minute = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def run_once(self):
        """One check: run the job (per_minute: only if this minute has not had its run); True if it ran."""
        if self.per_minute:
            minute = utcnow().replace(second=0, microsecond=0)
            if minute == self.last_minute:
                return False
            self.last_minute = minute
        with self.app.app_context():
            try:
                run_job(self.path)
            except Exception:  # keep going; the next run retries
                log.exception("%s failed", self.path)
            finally:
                db.session.remove()
        return True

    def _loop(self):
        while not self.stopped.wait(self.interval):
            self.run_once()

    def start(self):
        """Start the thread; returns self."""
        self.thread.start()
        return self

    def stop(self):
        """Stop after the current run."""
        self.stopped.set()
        self.thread.join(timeout=10)
