"""Benchmark: the LINE tab of a customer with 10,000 messages, server-side, on PostgreSQL.

    .venv/bin/python bench/line_tab.py [--messages 10000] [--requests 200] [--write-docs]

1. recreates the database crm_bench_line_tab, migrates it, creates a premium shop, one customer
   linked to a LINE friend and N messages in both directions (text, stickers, images; sent,
   failed and scheduled ones, with senders and approvers);
2. signs in as the owner and times GET /customers/<id>/line (the full page) and its HTMX form,
   the keyset "older" page from the middle of the history, and the poll;
3. counts SQL statements per request at 100 and at N messages: they must be equal;
4. prints p50/p95/p99 and, with --write-docs, updates docs/benchmarks.md;
5. the inbox's live check (GET /line/inbox/changes, 204 when nothing is new) with --friends
   friends (10,000): p95 ≤ 10 ms and the same SQL statements with 100 friends and with all.

    .venv/bin/python bench/line_tab.py --inbox-only [--friends 10000] [--requests 500] [--write-docs]
"""
import argparse
import random
import re
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ledger  # noqa: E402  (database, app and docs helpers)
import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from crm.conversations.models import (  # noqa: E402
    Direction,
    LineFriend,
    LineMessage,
    SendStatus,
)
from crm.customers.models import Customer  # noqa: E402
from crm.extensions import db  # noqa: E402
from crm.shops.models import Plan  # noqa: E402
from crm.staff.models import LineSendMode, Role  # noqa: E402
from crm.staff.onboarding import create_shop  # noqa: E402
from crm.staff.services import create_staff  # noqa: E402

SECTION = "## LINE tab with a long history"
INBOX_SECTION = "## LINE inbox live check"
INBOX_TARGET_P95_MS = 10.0
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_line_tab"
TARGET_P95_MS = 100.0
TEXTS = ["ご予約ありがとうございます。", "明日10時でお願いします", "了解しました！", "駐車場はありますか？",
         "カラーの色味は前回と同じでお願いします。\n前髪は少し短めで。", "ありがとうございました😊"]


def fill(app, messages, rng):
    """The shop, its owner and staff, one linked customer and `messages` rows of history."""
    with app.app_context():
        shop, owner = create_shop(name="ベンチサロン", owner_email=ledger.OWNER_EMAIL,
                                  owner_password=ledger.PASSWORD, plan=Plan.PREMIUM)
        staff = create_staff(shop, name="スタッフ", email="staff@bench.example", password=ledger.PASSWORD,
                             role=Role.STAFF, line_send_mode=LineSendMode.APPROVAL)
        customer = Customer(shop_id=shop.id, family_name="山田", given_name="花子", family_name_kana="ヤマダ",
                            given_name_kana="ハナコ", memo="")
        customer.refresh_match_keys()
        db.session.add(customer)
        db.session.flush()
        friend = LineFriend(shop_id=shop.id, line_user_id="U" + "b" * 32, display_name="はなこ", customer_id=customer.id)
        db.session.add(friend)
        db.session.flush()
        start = datetime.now(timezone.utc) - timedelta(days=700)
        rows = []
        for n in range(messages):
            incoming = rng.random() < 0.55
            kind = rng.choices(["text", "sticker", "image"], weights=[85, 10, 5])[0]
            row = dict(shop_id=shop.id, friend_id=friend.id, message_type=kind, payload={},
                       sent_at=start + timedelta(minutes=100 * n), created_at=start, updated_at=start,
                       direction=Direction.INCOMING if incoming else Direction.OUTGOING, attempts=0,
                       text=rng.choice(TEXTS) if kind == "text" else None)
            if kind == "sticker":
                row["payload"] = {"packageId": "446", "stickerId": "1988"}
            if kind == "image":
                row["media_status"] = "stored"
                row["media_path"] = f"{shop.id}/{n}.jpg"
                row["media_content_type"] = "image/jpeg"
            if not incoming:
                row["status"] = rng.choices([SendStatus.SENT, SendStatus.FAILED], weights=[97, 3])[0]
                row["sender_id"] = rng.choice([owner.id, staff.id])
                row["approved_by_id"] = owner.id if row["sender_id"] == staff.id else None
                row["retry_key"] = f"00000000-0000-4000-8000-{n:012d}"
            rows.append(row)
            if len(rows) == 5000:
                db.session.execute(sa.insert(LineMessage), rows)
                rows = []
        if rows:
            db.session.execute(sa.insert(LineMessage), rows)
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        return customer.id


def timed(client, url, headers=None, count=200, warmup=20, status=200):
    for _ in range(warmup):
        client.get(url, headers=headers)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != status:
            raise SystemExit(f"{url} answered {response.status_code}")
    return samples


def pct(samples, q):
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def count_statements(app, client, url):
    statements = []

    def listener(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        client.get(url)
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return len(statements)


def add_friends(app, count):
    """`count` more friends of the bench shop, each with a last message time (the inbox's order)."""
    with app.app_context():
        shop_id = db.session.scalar(sa.select(LineFriend.shop_id).limit(1))
        start = datetime.now(timezone.utc) - timedelta(days=30)
        rows = [dict(shop_id=shop_id, line_user_id=f"U{n:032d}", display_name=f"友だち{n}", followed=True,
                     unread_count=n % 3, unread_since=start if n % 3 else None, created_at=start, updated_at=start,
                     last_message_at=start + timedelta(seconds=n)) for n in range(count)]
        for i in range(0, len(rows), 5000):
            db.session.execute(sa.insert(LineFriend), rows[i:i + 5000])
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()


def bench_inbox(args, rng):
    """The inbox's "anything new since" check with nothing new: p95 and statements at 100 and N friends."""
    counts, samples = {}, None
    for size in (100, args.friends):
        ledger.recreate_database(args.database_url)
        app = ledger.make_app(args.database_url)
        with app.app_context():
            upgrade()
        fill(app, 10, rng)
        add_friends(app, size)
        client = app.test_client()
        ledger.login(client)
        page = client.get("/line/inbox").get_data(as_text=True)
        url = re.search(r'hx-get="(/line/inbox/changes\?since=[^"]+)"', page).group(1).replace("&amp;", "&")
        counts[size] = count_statements(app, client, url)
        if size == args.friends:
            samples = timed(client, url, headers={"HX-Request": "true"}, count=args.requests, status=204)
    p95 = pct(samples, 95)
    met = p95 <= INBOX_TARGET_P95_MS and counts[100] == counts[args.friends]
    table = "\n".join(["| request | n | p50 ms | p95 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|---:|",
                       f"| inbox live check, nothing new (204) | {len(samples)} | {statistics.median(samples):.1f} | "
                       f"{p95:.1f} | {pct(samples, 99):.1f} | {max(samples):.1f} |"])
    print(table)
    print(f"SQL statements per check: {counts[100]} with 100 friends, {counts[args.friends]} with {args.friends}")
    print(f"target p95 <= {INBOX_TARGET_P95_MS:g} ms and constant query count: {'met' if met else 'MISSED'}")
    if args.write_docs:
        section = f"""{INBOX_SECTION}

LINEトーク polls `GET /line/inbox/changes?since=…` every few seconds; with nothing new it answers 204
from one indexed lookup (`max(last_message_at)` on `(shop_id, last_message_at)`). {args.friends:,} friends
in one shop, PostgreSQL, Flask test client, measured
{datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')} on the shared 2-core machine.

    .venv/bin/python bench/line_tab.py --inbox-only --friends {args.friends} --requests {args.requests} --write-docs

{table}

SQL statements per check: {counts[100]} with 100 friends, {counts[args.friends]} with {args.friends:,}
(independent of the number of friends). Target: p95 ≤ {INBOX_TARGET_P95_MS:g} ms — {'met' if met else '**missed**'}.
"""
        ledger.write_docs(section, title=INBOX_SECTION)
        print(f"wrote {ledger.DOCS}")
    return 0 if met else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--friends", type=int, default=10_000)
    parser.add_argument("--inbox-only", action="store_true", help="only the inbox's live check")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default=DEFAULT_URL, help="dropped and recreated!")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    rng = random.Random(20261121)
    if args.inbox_only:
        return bench_inbox(args, rng)

    # Query counts first on a short history, then the full one.
    counts = {}
    for size in (100, args.messages):
        ledger.recreate_database(args.database_url)
        app = ledger.make_app(args.database_url)
        with app.app_context():
            upgrade()
        customer_id = fill(app, size, rng)
        client = app.test_client()
        ledger.login(client)
        counts[size] = count_statements(app, client, f"/customers/{customer_id}/line")
    base = f"/customers/{customer_id}/line"
    page = client.get(base).get_data(as_text=True)
    poll_url = re.search(r'hx-get="(/line/friends/\d+/poll\?[^"]+)"', page).group(1).replace("&amp;", "&")
    with app.app_context():
        middle = db.session.execute(
            sa.select(LineMessage.sent_at, LineMessage.id).order_by(LineMessage.sent_at).offset(args.messages // 2).limit(1)
        ).one()
    older_url = f"{base}/older?before={middle.sent_at.isoformat()}|{middle.id}".replace("+", "%2B")
    htmx = {"HX-Request": "true", "HX-Target": "customer-tabs"}
    results = {
        "LINE tab, full page": timed(client, base, count=args.requests),
        "LINE tab, HTMX fragment": timed(client, base, headers=htmx, count=args.requests),
        "older page (keyset, mid-history)": timed(client, older_url, headers={"HX-Request": "true"}, count=args.requests),
        "poll (nothing new)": timed(client, poll_url, headers={"HX-Request": "true"}, count=args.requests),
    }
    lines = ["| request | n | p50 ms | p95 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|---:|"]
    for name, samples in results.items():
        lines.append(f"| {name} | {len(samples)} | {statistics.median(samples):.1f} | {pct(samples, 95):.1f} | "
                     f"{pct(samples, 99):.1f} | {max(samples):.1f} |")
    table = "\n".join(lines)
    met = pct(results["LINE tab, full page"], 95) <= TARGET_P95_MS and counts[100] == counts[args.messages]
    print(table)
    print(f"SQL statements per LINE tab request: {counts[100]} with 100 messages, "
          f"{counts[args.messages]} with {args.messages}")
    print(f"target p95 <= {TARGET_P95_MS:g} ms and constant query count: {'met' if met else 'MISSED'}")
    if args.write_docs:
        command = "python bench/line_tab.py " + " ".join(argv if argv is not None else sys.argv[1:])
        section = f"""{SECTION}

The customer's LINE tab (`GET /customers/<id>/line`) with {args.messages:,} messages in its history,
server-side through the Flask test client on PostgreSQL (the page renders the newest 30; older ones
load by keyset as the user scrolls up). Measured {datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}
on the shared 2-core machine (quote medians and p95).

    .venv/bin/{command.strip()}

{table}

SQL statements per LINE tab request: {counts[100]} with 100 messages, {counts[args.messages]} with
{args.messages:,} (independent of the history's length). Target: p95 ≤ {TARGET_P95_MS:g} ms —
{'met' if met else '**missed**'}.
"""
        ledger.write_docs(section, title=SECTION)
        print(f"wrote {ledger.DOCS}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
