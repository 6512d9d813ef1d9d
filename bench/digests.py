"""Benchmark of the 08:00 digest slot: 1,000 shops with three staff each, half of them with unread messages.

    .venv/bin/python bench/digests.py [--shops 1000] [--staff-per-shop 3] [--email] \
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_digests] [--write-docs]

1. drops and recreates the bench database and builds it with the project's migrations;
2. starts the LINE sandbox as its own process (python -m line_sandbox) with the
   installation's notification channel, and creates the two staff rich menus on it;
3. fills N shops (Asia/Tokyo, premium) with an owner and two staff each; every staff
   member has their own LINE account, a friend of the notification channel, connected;
   every other shop has 1-5 unread conversations (linked customers, 1-4 messages each);
4. runs the scheduler's tick the way rq's cron does, at the slot (a frozen clock set to
   08:00:00 in Tokyo), then a tick in the next minute, and an idle tick with no slot due;
5. reports the tick's time, each digest's latency from the slot (in-app: when its row
   was committed; LINE: when the sandbox accepted its push), and checks every digest
   was delivered once; with --write-docs, updates its section of docs/benchmarks.md.

Channels: in-app and LINE (the sandbox); --email adds SMTP to a local aiosmtpd sink.
"""
import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from _docs import write_section  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from crm import create_app  # noqa: E402
from crm.config import TestingConfig  # noqa: E402
from crm.extensions import db  # noqa: E402

SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"
DEFAULT_URL = f"{SERVER_URL}/crm_bench_digests"
SECTION = "## Daily digests: one slot for 1,000 shops (issue: daily digests and plans)"
SLOT_AT = datetime(2025, 3, 2, 23, 0, tzinfo=timezone.utc)  # 2025-03-03 08:00 in Tokyo
TARGET_S = 120.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recreate_database(url):
    name = url.rsplit("/", 1)[1]
    engine = sa.create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()


class Sandbox:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "line_sandbox", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.http = requests.Session()
        for _ in range(100):
            try:
                if self.http.get(self.url + "/_sandbox/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the sandbox did not start")

    def call(self, method, path, **kwargs):
        response = self.http.request(method, self.url + path, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def build_world(app, sandbox, shops, staff_per_shop, rng):
    """Shops, staff with connected LINE users, unread conversations (bulk inserts)."""
    from crm.conversations.models import LineFriend
    from crm.customers.models import Customer
    from crm.digests.models import NotificationSettings
    from crm.shops.models import LineChannel, Plan, Shop
    from crm.staff.models import LineSendMode, Role, Staff
    from crm.staff.passwords import hash_password

    now = datetime.now(timezone.utc)
    password = hash_password("bench-password-2026")
    channel = app.config["NOTIFY_LINE_CHANNEL_ID"]
    unread_shops, conversations = 0, 0
    for start in range(0, shops, 100):
        shop_rows = [Shop(name=f"サロン{i + 1}", timezone="Asia/Tokyo", plan=Plan.PREMIUM, created_at=now, updated_at=now)
                     for i in range(start, min(start + 100, shops))]
        db.session.add_all(shop_rows)
        db.session.flush()
        staff_rows = []
        for shop in shop_rows:
            db.session.add(LineChannel(shop_id=shop.id))
            for j in range(staff_per_shop):
                staff_rows.append(Staff(shop_id=shop.id, email=f"s{shop.id}-{j}@bench.example", name=f"スタッフ{j}",
                                        password_hash=password, role=Role.OWNER if j == 0 else Role.STAFF,
                                        line_send_mode=LineSendMode.DIRECT))
        db.session.add_all(staff_rows)
        db.session.flush()
        for staff in staff_rows:
            user = sandbox.call("POST", "/_sandbox/users", json={"display_name": staff.name})["user_id"]
            sandbox.call("PUT", f"/_sandbox/channels/{channel}/users/{user}/friendship", json={"status": "friend"})
            db.session.add(NotificationSettings(staff_id=staff.id, shop_id=staff.shop_id, digest_opt_out=False,
                                                digest_email=True, line_user_id=user, line_connected_at=now,
                                                rich_menu_variant="normal"))
        for shop in shop_rows:
            if shop.id % 2:
                continue
            unread_shops += 1
            for k in range(rng.randint(1, 5)):
                customer = Customer(shop_id=shop.id, family_name="山田", given_name=f"花子{k}",
                                    family_name_kana="ヤマダ", given_name_kana="ハナコ")
                customer.refresh_match_keys()
                db.session.add(customer)
                db.session.flush()
                db.session.add(LineFriend(
                    shop_id=shop.id, line_user_id=f"U{shop.id:016x}{k:016x}", display_name=f"はなこ{k}",
                    customer_id=customer.id, unread_since=SLOT_AT - timedelta(minutes=rng.randint(5, 3000)),
                    unread_count=rng.randint(1, 4),
                ))
                conversations += 1
        db.session.commit()
    return unread_shops, conversations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shops", type=int, default=1000)
    parser.add_argument("--staff-per-shop", type=int, default=3)
    parser.add_argument("--email", action="store_true", help="also email every digest (a local SMTP sink)")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    recreate_database(args.database_url)
    sandbox = Sandbox()
    smtp = None
    try:
        channel = sandbox.call("POST", "/_sandbox/channels", json={
            "channel_id": "1999999999", "channel_secret": "b" * 32, "channel_access_token": "notify-bench-token",
            "bot_name": "顧客台帳 通知", "quota": 10_000_000})

        class Config(TestingConfig):
            SQLALCHEMY_DATABASE_URI = args.database_url
            LINE_API_BASE_URL = sandbox.url
            NOTIFY_LINE_CHANNEL_ID = channel["channel_id"]
            NOTIFY_LINE_CHANNEL_SECRET = channel["channel_secret"]
            NOTIFY_LINE_CHANNEL_ACCESS_TOKEN = channel["channel_access_token"]
            PUBLIC_BASE_URL = "https://crm.example.jp"
            SMTP_HOST = None

        if args.email:
            from aiosmtpd.controller import Controller

            class Sink:
                count = 0

                async def handle_DATA(self, server, session, envelope):
                    Sink.count += 1
                    return "250 OK"

            Config.SMTP_HOST, Config.SMTP_PORT, Config.SMTP_STARTTLS = "127.0.0.1", free_port(), False
            smtp = Controller(Sink(), hostname="127.0.0.1", port=Config.SMTP_PORT)
            smtp.start()

        app = create_app(Config)
        with app.app_context():
            upgrade()
            from crm.digests import line_notify, services
            from crm.digests.models import DigestSend, Notification

            with app.test_request_context():
                line_notify.setup("https://crm.example.jp/customers/", "https://crm.example.jp/notifications")
            db.session.commit()
            t0 = time.perf_counter()
            unread_shops, conversations = build_world(app, sandbox, args.shops, args.staff_per_shop, rng)
            print(f"built {args.shops} shops, {unread_shops} with {conversations} unread conversations "
                  f"in {time.perf_counter() - t0:.1f}s", flush=True)
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()

            # Idle ticks (no slot due): what the every-minute scheduler costs between slots.
            idle = []
            for minute in range(5):
                start = time.perf_counter()
                services.run_digest_tick(SLOT_AT - timedelta(minutes=30 - minute))
                idle.append(time.perf_counter() - start)

            # Latency instrumentation: when each push was accepted, when each batch of rows was committed.
            pushed, decided = {}, []
            original_push = line_notify.push
            original_decide = services.decide_shops

            def timed_push(api, to, messages, retry_key):
                original_push(api, to, messages, retry_key)
                pushed[retry_key] = time.perf_counter()

            def timed_decide(*a, **kw):
                original_decide(*a, **kw)
                decided.append(time.perf_counter())

            line_notify.push, services.decide_shops = timed_push, timed_decide
            slot_started = time.perf_counter()
            result = services.run_digest_tick(SLOT_AT)
            tick_s = time.perf_counter() - slot_started
            second = time.perf_counter()
            again = services.run_digest_tick(SLOT_AT + timedelta(minutes=1))
            second_s = time.perf_counter() - second
            line_notify.push, services.decide_shops = original_push, original_decide

            sends = db.session.scalar(sa.select(sa.func.count()).select_from(DigestSend))
            notifications = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
            undelivered = db.session.scalar(sa.select(sa.func.count()).select_from(DigestSend)
                                            .where(DigestSend.status != "sent"))
            sent_log = sandbox.call("GET", f"/_sandbox/channels/{channel['channel_id']}/sent")
            pushes = [s for s in sent_log if s["via"] == "push"]
            line_lat = sorted(t - slot_started for t in pushed.values())
            inapp_s = (decided[-1] - slot_started) if decided else 0.0
            expected = unread_shops * args.staff_per_shop
            ok = (sends == notifications == expected == len(pushes) == len(set(p["to"] for p in pushes))
                  and undelivered == 0 and again.sends == 0 and max(line_lat) <= TARGET_S)
            emails = smtp.handler.count if smtp else None

            def pct(values, p):
                return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

            stats = {
                "tick_s": tick_s, "second_s": second_s, "idle_ms": statistics.median(idle) * 1000,
                "inapp_s": inapp_s, "p50": pct(line_lat, 50), "p95": pct(line_lat, 95), "max": line_lat[-1],
                "per_digest_ms": tick_s / max(1, sends) * 1000,
            }
            print(result.as_dict(), again.as_dict(), flush=True)
            for key, value in stats.items():
                print(f"{key}: {value:.3f}", flush=True)
            print(f"digests {sends}, notifications {notifications}, pushes {len(pushes)}, emails {emails}, "
                  f"expected {expected}, undelivered {undelivered}: {'OK' if ok else 'FAILED'}", flush=True)

    finally:
        sandbox.stop()
        if smtp:
            smtp.stop()
    if args.write_docs:
        write_docs(args, stats, result, sends, len(pushes), emails, unread_shops, conversations, ok)
    return 0 if ok else 1


def write_docs(args, stats, result, sends, pushes, emails, unread_shops, conversations, ok):
    import platform

    engine = sa.create_engine(args.database_url)
    with engine.connect() as conn:
        pg = conn.exec_driver_sql("SHOW server_version").scalar()
    engine.dispose()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()[0]
    channels = "in-app + LINE + email" if args.email else "in-app + LINE"
    command = f".venv/bin/python bench/digests.py --shops {args.shops}" + (" --email" if args.email else "") + " --write-docs"
    section = f"""{SECTION}

The 08:00 slot of {args.shops:,} shops (Asia/Tokyo, premium) with {args.staff_per_shop} staff each, every
staff member connected to their own LINE account on the notification channel; {unread_shops} shops (half)
have unread conversations ({conversations} in all, 1-5 per shop). One scheduler tick at the slot
(`run_digest_tick`, what rq's cron job runs every minute) decides every shop's slot, writes one
digest row and one in-app notification per staff member, pushes every LINE digest to the LINE
sandbox (a separate process, as LINE would be) and records the outcome. Channels: {channels}.
PostgreSQL on the same machine; the frozen clock is set to the slot, latencies are wall-clock
from the start of the tick.

Command (drops and recreates the database `crm_bench_digests`):

```
{command}
```

- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, working tree based on commit `{commit}`
- Machine: {os.cpu_count()} cores, shared; PostgreSQL {pg}; Python {platform.python_version()};
  load average (1 min) {load:.1f} at the end.

| What | Result |
|---|---:|
| digests (staff × shops with unread) | {sends:,} |
| LINE pushes accepted by the sandbox (one per digest, none twice) | {pushes:,} |
| emails | {emails if emails is not None else "—"} |
| tick at the slot: total time | {stats['tick_s']:.1f} s |
| per digest (tick time / digests) | {stats['per_digest_ms']:.1f} ms |
| in-app: every notification committed after | {stats['inapp_s']:.1f} s |
| LINE latency from the slot: p50 / p95 / max | {stats['p50']:.1f} / {stats['p95']:.1f} / {stats['max']:.1f} s |
| the next minute's tick (nothing left to send) | {stats['second_s'] * 1000:.0f} ms |
| an idle tick between slots (median of 5) | {stats['idle_ms']:.0f} ms |
| every digest out within 2 minutes of the slot | {"yes" if ok else "**no**"} |

Shop slots decided in the tick: {result.runs} with digests, {result.empty} empty (nothing unread).
"""
    write_section(SECTION, section)


if __name__ == "__main__":
    sys.exit(main())
