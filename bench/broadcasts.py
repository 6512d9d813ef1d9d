"""Benchmark of 一斉配信: segment counts over 100,000 customers, and 100,000-recipient broadcasts
(multicast, then per-recipient pushes) with a worker killed (SIGKILL) and Redis flushed mid-run.

    .venv/bin/python bench/broadcasts.py [--customers 100000] [--workers 2] [--counts 40] [--write-docs]

1. recreates the PostgreSQL database crm_bench_broadcasts (migrations), starts the LINE sandbox
   (python -m line_sandbox: request bodies validated against messaging-api.yml, push limited to
   2,000 requests a second) and seeds one shop: customers, LINE friends, tags, bookings (bulk inserts);
2. times segments.count with 3 conditions (tag AND last visit over 60 days ago AND no upcoming
   booking), --counts times: p50/p95;
3. for each mode (one message: multicast; {お客様名}: push): submits a broadcast to every customer
   as the owner (quota checked at the sandbox), N `flask crm worker` processes send it; once a third
   is sent one worker is SIGKILLed and Redis flushed; a new worker starts and the tick (sweep)
   re-enqueues the lost batches (lease BROADCAST_LEASE_SECONDS=5);
4. counts, from the sandbox's received calls, deliveries per recipient: 0 duplicates and 0 lost;
   the time from the submit to the last LINE call.
"""
import argparse
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402
from _docs import write_section  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from redis import Redis  # noqa: E402
from scheduled import (  # noqa: E402
    CREDENTIALS_KEYS,
    SERVER_URL,
    Process,
    Sandbox,
    free_port,
    wait_http,
)

from crm import create_app, jobs  # noqa: E402
from crm.broadcasts import delivery, segments, services  # noqa: E402
from crm.broadcasts.models import Broadcast, BroadcastRecipient, RecipientStatus  # noqa: E402
from crm.config import ProductionConfig  # noqa: E402
from crm.database import utcnow  # noqa: E402
from crm.extensions import db  # noqa: E402
from crm.line_platform.services import channel_for_shop, save_channel  # noqa: E402
from crm.shops.models import Plan  # noqa: E402
from crm.staff.onboarding import create_shop  # noqa: E402

DB_NAME = "crm_bench_broadcasts"
REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET_KEY = "bench-broadcasts-secret"
SECTION = "## 一斉配信 (broadcasts)"
CHANNEL = {"channel_id": "2200000001", "channel_secret": "b" * 32, "channel_access_token": "bench-broadcasts-token",
           "bot_name": "ベンチサロン", "quota": 10_000_000}


def claim_redis():
    """A Redis database of our own (the test runs' claim), so flushing it disturbs nobody."""
    from tests.plugins.redis_db import RedisClaim, _with_db

    claim = RedisClaim(REDIS_BASE)
    number = claim.claim()
    if number is None:
        raise SystemExit("no free Redis database (1-15) to claim")
    return claim, _with_db(REDIS_BASE, number)


CLAIM, REDIS_URL = claim_redis()


class BenchConfig(ProductionConfig):
    SQLALCHEMY_DATABASE_URI = f"{SERVER_URL}/{DB_NAME}"
    SECRET_KEY = SECRET_KEY
    CREDENTIALS_KEYS = CREDENTIALS_KEYS
    REDIS_URL = REDIS_URL
    JOBS_MODE = "rq"
    RATELIMIT_STORAGE_URI = "memory://"


def user_id(n):
    return "U" + uuid.UUID(int=n + 1).hex


def seed(app, sandbox, n):
    admin = sa.create_engine(f"{SERVER_URL}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    with app.app_context():
        upgrade()
        shop, owner = create_shop(name="ベンチサロン", owner_email="owner@bench.example", owner_password="bench-password-1",
                                  owner_name="オーナー", plan=Plan.PREMIUM)
        save_channel(channel_for_shop(shop.id), CHANNEL["channel_id"], CHANNEL["channel_secret"],
                     CHANNEL["channel_access_token"])
        db.session.commit()
        shop_id, owner_id = shop.id, owner.id
        now = utcnow()
        conn = db.session.connection()
        conn.execute(sa.text("""
            INSERT INTO customers (shop_id, family_name, given_name, family_name_kana, given_name_kana, memo,
                name_norm, given_name_norm, broadcast_opt_out, birthday, created_at, updated_at)
            SELECT :shop, '顧客' || g, '様', 'コキャク', 'サマ', '', '顧客' || g, '様', g % 50 = 0,
                   DATE '1980-01-01' + (g % 12000), :now - make_interval(days => g % 700), :now
            FROM generate_series(1, :n) g"""), {"shop": shop_id, "now": now, "n": n})
        conn.execute(sa.text("""
            INSERT INTO line_friends (shop_id, line_user_id, display_name, followed, customer_id, unread_count,
                created_at, updated_at)
            SELECT :shop, 'U' || lpad(to_hex(row_number() OVER (ORDER BY id)), 32, '0'), '友だち', true, id, 0, :now, :now
            FROM customers WHERE shop_id = :shop"""), {"shop": shop_id, "now": now})
        conn.execute(sa.text("INSERT INTO tags (shop_id, name, colour, created_at, updated_at) VALUES (:s, 'VIP', 'gray', :now, :now)"),
                     {"s": shop_id, "now": now})
        tag_id = conn.execute(sa.text("SELECT id FROM tags WHERE shop_id = :s"), {"s": shop_id}).scalar()
        conn.execute(sa.text("INSERT INTO customer_tags (customer_id, tag_id, shop_id) SELECT id, :t, :s FROM customers "
                             "WHERE shop_id = :s AND id % 3 = 0"), {"t": tag_id, "s": shop_id})
        conn.execute(sa.text("INSERT INTO booking_services (shop_id, name, description, duration_minutes, price_yen, active,"
                             " position, created_at, updated_at) VALUES (:s, 'カット', '', 60, 4400, true, 0, :now, :now)"),
                     {"s": shop_id, "now": now})
        service_id = conn.execute(sa.text("SELECT id FROM booking_services WHERE shop_id = :s"), {"s": shop_id}).scalar()
        # Two bookings per customer: one 5-400 days ago, and every fourth customer one ahead.
        conn.execute(sa.text("""
            INSERT INTO bookings (shop_id, customer_id, service_id, service_name, price_yen, starts_at, ends_at, status,
                source, family_name, given_name, family_name_kana, given_name_kana, phone, created_at, updated_at)
            SELECT :s, id, :svc, 'カット', 4400, t, t + interval '1 hour', 'booked', 'web', family_name, '', '', '', '0900',
                   :now, :now
            FROM (SELECT id, family_name, :now - make_interval(days => 5 + id % 400) AS t FROM customers WHERE shop_id = :s
                  UNION ALL
                  SELECT id, family_name, :now + make_interval(days => 1 + id % 30) FROM customers
                  WHERE shop_id = :s AND id % 4 = 0) b"""), {"s": shop_id, "svc": service_id, "now": now})
        db.session.commit()
        conn = db.session.connection()
        conn.execute(sa.text("ANALYZE"))
        users = [u for (u,) in db.session.execute(sa.text("SELECT line_user_id FROM line_friends WHERE shop_id = :s"),
                                                  {"s": shop_id})]
        db.session.commit()
    return shop_id, owner_id, tag_id, users


def reset_sandbox(sandbox, users):
    sandbox.call("POST", "/_sandbox/reset")
    sandbox.call("POST", "/_sandbox/channels", json=CHANNEL)
    for start in range(0, len(users), 20000):
        sandbox.call("POST", f"/_sandbox/channels/{CHANNEL['channel_id']}/friends",
                     json={"user_ids": users[start:start + 20000]})


def time_counts(app, shop_id, tag_id, runs):
    definition = {"op": "and", "groups": [{"op": "and", "conditions": [
        {"kind": "tag", "tag_id": tag_id}, {"kind": "visit_older", "days": 60}, {"kind": "no_upcoming"}]}]}
    timings, result = [], None
    with app.app_context():
        clean = segments.clean(definition, shop_id)
        for _ in range(runs):
            started = time.perf_counter()
            result = segments.count(shop_id, clean, "Asia/Tokyo")
            timings.append((time.perf_counter() - started) * 1000)
            db.session.commit()
    timings.sort()
    return {"p50": statistics.median(timings), "p95": timings[int(len(timings) * 0.95) - 1], "max": timings[-1],
            "matched": result.matched, "reachable": result.reachable}


def run_broadcast(app, env, logdir, sandbox, users, shop_id, owner_id, text, workers, redis):
    reset_sandbox(sandbox, users)
    procs = [Process(f"worker-{text[:3]}-{i}", [sys.executable, "-m", "flask", "--app", "wsgi", "crm", "worker"], env, logdir)
             for i in range(workers)]
    time.sleep(3)  # workers up
    with app.app_context():
        from crm.shops.models import Shop
        from crm.staff.models import Staff

        shop, owner = db.session.get(Shop, shop_id), db.session.get(Staff, owner_id)
        started = time.time()
        broadcast = services.save(shop, owner, None, "bench", segments.empty_definition(), text, None)
        services.submit(broadcast, shop, owner, None)
        broadcast_id = broadcast.id
        jobs.commit()
        db.session.remove()
    expected = sum(1 for _ in users) - len(users) // 50  # every 50th customer is 配信停止

    def sent_count():
        with app.app_context():
            try:
                return db.session.scalar(sa.select(sa.func.count()).select_from(BroadcastRecipient).where(
                    BroadcastRecipient.broadcast_id == broadcast_id, BroadcastRecipient.status == RecipientStatus.SENT))
            finally:
                db.session.remove()

    while sent_count() < expected // 3:
        time.sleep(0.2)
    os.killpg(procs[0].proc.pid, signal.SIGKILL)
    procs[0].proc.wait()
    redis.flushdb()
    killed_at = time.time() - started
    procs.append(Process(f"worker-{text[:3]}-new", [sys.executable, "-m", "flask", "--app", "wsgi", "crm", "worker"],
                         env, logdir))
    with app.app_context():  # the tick, at once (lost PENDING batches) and after the lease (the killed one's)
        delivery.sweep_batches(utcnow(), pending_after=timedelta(0))
        jobs.commit()
        time.sleep(6)
        delivery.sweep_batches(utcnow())
        jobs.commit()
        db.session.remove()
    deadline = time.time() + 600
    while time.time() < deadline:
        with app.app_context():
            status = db.session.get(Broadcast, broadcast_id).status.value
            db.session.remove()
        if status in ("done", "failed"):
            break
        with app.app_context():  # the periodic tick
            delivery.sweep_batches(utcnow())
            jobs.commit()
            db.session.remove()
        time.sleep(1)
    for proc in procs:
        proc.stop()
    requests_log = sandbox.call("GET", f"/_sandbox/channels/{CHANNEL['channel_id']}/requests")
    sent = sandbox.call("GET", f"/_sandbox/channels/{CHANNEL['channel_id']}/sent")
    per_user = {}
    for entry in sent:
        per_user[entry["to"]] = per_user.get(entry["to"], 0) + 1
    last_call = max(r["at"] for r in requests_log if r["path"].startswith("/v2/bot/message/"))
    with app.app_context():
        progress = services.progress(db.session.get(Broadcast, broadcast_id))
        db.session.remove()
    return {"status": status, "expected": expected, "delivered": len(per_user),
            "duplicates": sum(c - 1 for c in per_user.values()), "lost": expected - len(per_user),
            "seconds": last_call - started, "killed_at": killed_at, "sent": progress.sent, "failed": progress.failed,
            "rate_limited": sum(1 for r in requests_log if r["status"] == 429)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--counts", type=int, default=40)
    parser.add_argument("--only", choices=["count", "multicast", "push"], action="append")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    logdir = tempfile.mkdtemp(prefix="bench-broadcasts-")
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CRM_ENV": "production", "SECRET_KEY": SECRET_KEY, "CREDENTIALS_KEYS": CREDENTIALS_KEYS,
           "DATABASE_URL": f"{SERVER_URL}/{DB_NAME}", "REDIS_URL": REDIS_URL, "LINE_API_BASE_URL": sandbox_url,
           "BROADCAST_LEASE_SECONDS": "5", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    sandbox_proc = Process("sandbox", [sys.executable, "-m", "line_sandbox", "--port", str(port)], env, logdir)
    redis = Redis.from_url(REDIS_URL)
    results = {}
    try:
        wait_http(sandbox_url + "/_sandbox/health")
        sandbox = Sandbox(sandbox_url)

        class Config(BenchConfig):
            LINE_API_BASE_URL = sandbox_url

        app = create_app(Config)
        t0 = time.time()
        shop_id, owner_id, tag_id, users = seed(app, sandbox, args.customers)
        print(f"seeded {len(users)} customers in {time.time() - t0:.1f}s", flush=True)
        only = set(args.only or ["count", "multicast", "push"])
        if "count" in only:
            results["count"] = time_counts(app, shop_id, tag_id, args.counts)
            print("segment count", results["count"], flush=True)
        for mode, text in (("multicast", "{店舗名}より今月のお知らせです"), ("push", "{お客様名}様、{店舗名}です")):
            if mode in only:
                redis.flushdb()
                results[mode] = run_broadcast(app, env, logdir, sandbox, users, shop_id, owner_id, text, args.workers, redis)
                print(mode, results[mode], flush=True)
    finally:
        sandbox_proc.stop()
        redis.flushdb()
        CLAIM.release()
        print("logs:", logdir)
    if args.write_docs:
        write_docs(args, results)


def write_docs(args, results):
    lines = [SECTION, "", f"`.venv/bin/python bench/broadcasts.py --customers {args.customers} --workers {args.workers} "
             f"--write-docs` ({date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores shared with other "
             "work, PostgreSQL, the LINE sandbox in one process validating every body against messaging-api.yml, "
             "push limited to 2,000 requests a second).", ""]
    if "count" in results:
        r = results["count"]
        lines += [f"- Segment count over {args.customers:,} customers, 3 conditions (tag AND last visit over 60 days "
                  f"ago AND no upcoming booking; {r['matched']:,} match): p50 {r['p50']:.1f} ms, **p95 {r['p95']:.1f} ms**"
                  f", max {r['max']:.1f} ms (target p95 ≤ 200 ms)."]
    for mode, target in (("multicast", 60), ("push", 120)):
        if mode in results:
            r = results[mode]
            lines += [f"- {mode}: {r['expected']:,} recipients, all LINE calls made in **{r['seconds']:.1f} s** "
                      f"(target {target} s); worker SIGKILLed and Redis flushed at {r['killed_at']:.1f} s; "
                      f"{r['duplicates']} duplicates, {r['lost']} lost (counted from the sandbox's deliveries); "
                      f"{r['rate_limited']} calls answered 429 and retried."]
    write_section(SECTION, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
