"""Benchmark: chat operations (issue 13) on one shop with 10,000 friends and 1,000,000 messages, PostgreSQL.

    .venv/bin/python bench/chat_ops.py [--friends 10000] [--messages 1000000] [--requests 100] [--write-docs]

1. recreates the database crm_bench_chat, migrates it (the pg_trgm index included), creates a premium
   shop with its owner and two staff, `--friends` customers each linked to a LINE friend (a tenth
   of the friends are not linked: new inquiries), five tags on a fifth of the customers, 要対応 /
   対応済み / 担当者 / unread spread over the friends, twenty 定型文, and `--messages` messages in both
   directions written by INSERT … SELECT (then VACUUM ANALYZE, as autovacuum would);
2. signs in as the owner and times, through the Flask test client (server side, no network):
   the inbox page with each filter (すべて, 未読, 要対応, 対応済み, 自分の担当, a tag), the message
   search for 2- and 6-character Japanese strings (a common and a rare 2-character one), and the
   定型文 picker (`/` in the composer) unfiltered and filtered;
3. counts SQL statements of the inbox at two list sizes: they must be equal;
4. the image send path: a 5 MB JPEG photo posted to the composer, checked and shrunk to its preview
   by Pillow, stored, and pushed to the LINE sandbox (`python -m line_sandbox`, validating the
   request against messaging-api.yml) inside the request (jobs run in-process): p95 of the whole
   request, and that the sandbox received one image message per upload.
"""
import argparse
import io
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ledger  # noqa: E402  (database, app and docs helpers)
import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from line_tab import count_statements, pct, timed  # noqa: E402  (bench/line_tab.py: the same timing)
from PIL import Image  # noqa: E402
from scheduled import Process, Sandbox, free_port, wait_http  # noqa: E402

from crm.conversations.models import LineFriend  # noqa: E402
from crm.customers.models import Customer  # noqa: E402
from crm.extensions import db  # noqa: E402
from crm.line_platform.services import channel_for_shop, save_channel  # noqa: E402
from crm.shops.models import Plan  # noqa: E402
from crm.staff.models import LineSendMode, Role  # noqa: E402
from crm.staff.onboarding import create_shop  # noqa: E402
from crm.staff.services import create_staff  # noqa: E402
from line_sandbox.schema import spec_dir  # noqa: E402

SECTION = "## Chat operations (issue 13): inbox, search, 定型文 and images at 1,000,000 messages"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_chat"
TARGETS_MS = {"inbox": 150.0, "search": 200.0, "picker": 50.0, "image": 500.0}
IMAGE_BYTES = 5 * 1024 * 1024
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')

# What salon customers and staff write; a message is one or two of these. 「駐車」 is in one phrase
# of 44 (common), 「縮毛」 in a message of its own about once in 10,000 (rare).
PHRASES = [
    "ご予約ありがとうございます。", "明日10時でお願いします", "了解しました！", "駐車場はありますか？",
    "カラーの色味は前回と同じでお願いします。", "前髪は少し短めで。", "ありがとうございました😊",
    "今週の土曜日は空いていますか？", "15時からでも大丈夫でしょうか", "キャンセルさせてください🙏",
    "少し遅れます、すみません", "トリートメントも追加できますか？", "来週の火曜日に変更できますか",
    "お店の場所がわからないです", "クーポンは使えますか？", "子ども連れでも大丈夫ですか？",
    "ヘッドスパの料金を教えてください", "本日はありがとうございました。またのご来店をお待ちしております。",
    "かしこまりました。お待ちしております。", "次回のご予約はいかがなさいますか？",
    "カットだけでお願いします", "パーマの持ちが良かったです", "髪がだいぶ伸びてきました",
    "白髪染めをお願いしたいです", "ブリーチありでお願いします", "担当は前回と同じ方でお願いします",
    "写真のような感じにしたいです", "雨なので少し遅れるかもしれません", "到着しました",
    "支払いはカードでも大丈夫ですか", "ポイントカードを忘れました", "予約の確認をお願いします",
    "LINEで予約できますか？", "平日の夕方は混んでいますか", "ネイルの予約もできますか",
    "眉カットもお願いできますか", "会計はいくらくらいになりますか", "前回のカラー剤を教えてください",
    "着物の着付けは可能ですか", "成人式の予約をしたいです", "日曜日は何時までですか",
    "またよろしくお願いします", "お誕生日おめでとうございます🎂", "ご来店お待ちしております",
]
RARE = "縮毛矯正の予約をお願いしたいです"
QUERIES = {"2 characters, common (駐車)": "駐車", "2 characters, rare (縮毛)": "縮毛",
           "6 characters (カラーの色味)": "カラーの色味"}


def fill(url, friends, messages, rng):
    """The shop, customers, friends, tags, 定型文 and the message history; returns ids the requests need."""
    app = ledger.make_app(url)
    now = datetime.now(timezone.utc)
    with app.app_context():
        upgrade()
        shop, owner = create_shop(name="チャットベンチサロン", owner_email=ledger.OWNER_EMAIL,
                                  owner_password=ledger.PASSWORD, owner_name="オーナー", plan=Plan.PREMIUM)
        staff = [create_staff(shop, name=f"スタッフ{n}", email=f"staff{n}@bench.example", password=ledger.PASSWORD,
                              role=Role.STAFF, line_send_mode=LineSendMode.DIRECT) for n in (1, 2)]
        db.session.commit()
        shop_id, owner_id, staff_ids = shop.id, owner.id, [s.id for s in staff]
        phones = ledger.unique_mobiles(friends, rng)
        ledger.bulk_insert(Customer.__table__, ledger.customer_rows(shop_id, friends, phones, rng, now))
        db.session.commit()
        conn = db.session.connection()
        # Friends: nine in ten linked to a customer, the rest new inquiries; last_message_at set below.
        conn.execute(sa.text("""
            INSERT INTO line_friends (shop_id, line_user_id, display_name, followed, customer_id, linked_at,
                                      created_at, updated_at, unread_count)
            SELECT :shop, 'U' || md5(c.id::text), c.given_name || 'さん', true,
                   CASE WHEN row_number() OVER (ORDER BY c.id) % 10 = 0 THEN NULL ELSE c.id END,
                   now(), now(), now(), 0
            FROM customers c WHERE c.shop_id = :shop"""), {"shop": shop_id})
        conn.execute(sa.text("INSERT INTO tags (shop_id, name, colour, created_at, updated_at) "
                             "SELECT :shop, t.name, 'blue', now(), now() FROM unnest(CAST(:names AS text[])) AS t(name)"),
                     {"shop": shop_id, "names": ["VIP", "カラー", "縮毛", "学生", "新規"]})
        conn.execute(sa.text("""
            INSERT INTO customer_tags (shop_id, customer_id, tag_id)
            SELECT :shop, c.id, t.id FROM customers c
            JOIN tags t ON t.shop_id = :shop AND t.name = (ARRAY['VIP','カラー','縮毛','学生','新規'])[1 + (c.id / 5) % 5]
            WHERE c.shop_id = :shop AND c.id % 5 = 0"""), {"shop": shop_id})
        # A tag of seven customers: an inbox page shorter than a full one, for the statement count.
        conn.execute(sa.text("INSERT INTO tags (shop_id, name, colour, created_at, updated_at) "
                             "VALUES (:shop, 'モニター', 'green', now(), now())"), {"shop": shop_id})
        conn.execute(sa.text("""
            INSERT INTO customer_tags (shop_id, customer_id, tag_id)
            SELECT :shop, c.id, (SELECT id FROM tags WHERE shop_id = :shop AND name = 'モニター')
            FROM customers c WHERE c.shop_id = :shop AND c.id % 10 <> 0 ORDER BY c.id LIMIT 7"""), {"shop": shop_id})
        # Messages: friend = g mod N, oldest first, 30 s apart; one in ten thousand is the rare phrase.
        conn.execute(sa.text("CREATE TEMP TABLE bench_friends AS "
                             "SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM line_friends WHERE shop_id = :shop"),
                     {"shop": shop_id})
        conn.execute(sa.text("CREATE UNIQUE INDEX ON bench_friends (n)"))
        conn.execute(sa.text("""
            INSERT INTO line_messages (shop_id, friend_id, direction, message_type, text, payload, sent_at,
                                       created_at, updated_at, status, sender_id, attempts, via)
            SELECT :shop, f.id,
                   CASE WHEN g % 9 < 5 THEN 'in' ELSE 'out' END,
                   'text',
                   CASE WHEN g % 10007 = 0 THEN :rare
                        WHEN g % 3 = 0 THEN p.phrases[1 + (g * 7) % :np] || p.phrases[1 + (g * 13) % :np]
                        ELSE p.phrases[1 + (g * 7) % :np] END,
                   '{}', now() - (:total - g) * interval '30 seconds', now(), now(),
                   CASE WHEN g % 9 < 5 THEN NULL ELSE 'sent' END,
                   CASE WHEN g % 9 < 5 THEN NULL ELSE :owner END, 0,
                   CASE WHEN g % 9 < 5 THEN NULL ELSE 'push' END
            FROM generate_series(1, :total) AS g
            JOIN bench_friends f ON f.n = g % :friends
            CROSS JOIN (SELECT CAST(:phrases AS text[]) AS phrases) p"""),
            {"shop": shop_id, "rare": RARE, "np": len(PHRASES), "total": messages, "friends": friends,
             "phrases": PHRASES, "owner": owner_id})
        # Read state, marks and assignees spread over the friends (every value of each filter present).
        conn.execute(sa.text("""
            UPDATE line_friends f SET last_message_at = m.last,
                   attention = CASE WHEN f.id % 10 < 3 THEN 'open' WHEN f.id % 10 < 8 THEN 'done' ELSE NULL END,
                   assignee_id = CASE WHEN f.id % 4 = 0 THEN :owner WHEN f.id % 4 = 1 THEN :staff ELSE NULL END,
                   unread_since = CASE WHEN f.id % 10 = 0 THEN m.last ELSE NULL END,
                   unread_count = CASE WHEN f.id % 10 = 0 THEN 2 ELSE 0 END
            FROM (SELECT friend_id, max(sent_at) AS last FROM line_messages GROUP BY friend_id) m
            WHERE m.friend_id = f.id"""), {"owner": owner_id, "staff": staff_ids[0]})
        for n in range(20):
            conn.execute(sa.text("INSERT INTO line_saved_replies (shop_id, title, body, created_at, updated_at) "
                                 "VALUES (:shop, :title, :body, now(), now())"),
                         {"shop": shop_id, "title": f"定型文{n:02d} " + PHRASES[n][:8],
                          "body": "{お客様名}様、" + PHRASES[n] + " 次回のご予約は{次回予約}です。{店舗名}"})
        db.session.commit()
    with app.app_context(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("customers", "line_friends", "line_messages", "tags", "customer_tags", "line_saved_replies"):
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
    return filled(app)


def filled(app):
    """(app, shop id, the VIP tag, the seven-customer tag, a linked friend) of the filled database."""
    with app.app_context():
        shop_id = db.session.scalar(sa.text("SELECT id FROM shops WHERE name = 'チャットベンチサロン'"))
        tag_id, small_tag_id = (db.session.scalar(sa.text("SELECT id FROM tags WHERE shop_id = :s AND name = :n"),
                                                  {"s": shop_id, "n": name}) for name in ("VIP", "モニター"))
        friend_id = db.session.scalar(sa.select(LineFriend.id).where(LineFriend.shop_id == shop_id,
                                                                     LineFriend.customer_id.is_not(None)).limit(1))
    return app, shop_id, tag_id, small_tag_id, friend_id


def photo(rng, size=IMAGE_BYTES):
    """A JPEG of about `size` bytes: noise compresses badly, as a phone photo's detail does."""
    width, height = 2400, 1800
    noise = bytes(rng.getrandbits(8) for _ in range(width * height * 3))
    image = Image.frombytes("RGB", (width, height), noise)
    for quality in (95, 90, 85, 80, 75, 70):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        if out.tell() <= size:
            return out.getvalue()
    return out.getvalue()


def bench_image(app, client, shop_id, friend_id, sandbox, count, rng):
    """POST a 5 MB photo to the composer `count` times; the sandbox must receive each image message."""
    bot = sandbox.call("POST", "/_sandbox/channels", json={
        "channel_id": "2200000001", "channel_secret": "0" * 32, "channel_access_token": "bench-chat-token",
        "bot_name": "チャットベンチサロン"})
    with app.app_context():
        user = sandbox.call("POST", "/_sandbox/users", json={"display_name": "お客様"})
        sandbox.http.put(f"{sandbox.url}/_sandbox/channels/{bot['channel_id']}/users/{user['user_id']}/friendship",
                         json={"status": "friend"}, timeout=30).raise_for_status()
        save_channel(channel_for_shop(shop_id), bot["channel_id"], bot["channel_secret"], bot["channel_access_token"])
        db.session.get(LineFriend, friend_id).line_user_id = user["user_id"]
        db.session.commit()
    data = photo(rng)
    page = client.get(f"/line/friends/{friend_id}", follow_redirects=True).get_data(as_text=True)
    token = _CSRF_META.search(page).group(1)
    samples, run = [], f"{rng.getrandbits(48):012x}"  # client keys of this run (a repeated key is not sent again)
    for n in range(count + 3):
        started = time.perf_counter()
        response = client.post(f"/line/friends/{friend_id}/messages",
                               data={"csrf_token": token, "text": "", "client_key": f"bench-image-{run}-{n}",
                                     "image": (io.BytesIO(data), "photo.jpg", "image/jpeg")},
                               headers={"HX-Request": "true"}, content_type="multipart/form-data")
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"image send answered {response.status_code}: {response.get_data(as_text=True)[:500]}")
        if n >= 3:  # the first few warm Pillow and the connection pool
            samples.append(elapsed)
    sent = sandbox.call("GET", f"/_sandbox/channels/{bot['channel_id']}/sent")
    images = [m for s in sent for m in s["messages"] if m["type"] == "image"]
    return samples, len(data), len(images)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--friends", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--database-url", default=DEFAULT_URL, help="dropped and recreated!")
    parser.add_argument("--reuse", action="store_true", help="time the database a previous run filled")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    rng = random.Random(20261203)

    if args.reuse:
        app, shop_id, tag_id, small_tag_id, friend_id = filled(ledger.make_app(args.database_url))
    else:
        ledger.recreate_database(args.database_url)
        started = time.monotonic()
        print(f"filling {args.friends:,} friends and {args.messages:,} messages ...", flush=True)
        app, shop_id, tag_id, small_tag_id, friend_id = fill(args.database_url, args.friends, args.messages, rng)
        print(f"  filled in {time.monotonic() - started:.0f} s", flush=True)
    client = app.test_client()
    ledger.login(client)

    results = {}
    filters = {"すべて": "", "未読": "?filter=unread", "要対応": "?filter=open", "対応済み": "?filter=done",
               "自分の担当": "?filter=mine", "tag VIP": f"?tag={tag_id}"}
    for name, query in filters.items():
        results[("inbox", f"inbox page, {name}")] = timed(client, f"/line/inbox{query}", count=args.requests, warmup=5)
    for name, text in QUERIES.items():
        results[("search", f"search, {name}")] = timed(client, f"/line/search?q={text}", count=args.requests, warmup=5)
    picker = f"/line/friends/{friend_id}/saved-replies"
    results[("picker", "定型文 picker, all")] = timed(client, picker, headers={"HX-Request": "true"}, count=args.requests, warmup=5)
    results[("picker", "定型文 picker, filtered (予約)")] = timed(client, picker + "?q=予約", headers={"HX-Request": "true"},
                                                               count=args.requests, warmup=5)

    # The inbox's statements do not grow with the list: the same count for 7 conversations and a full page.
    counts = {7: count_statements(app, client, f"/line/inbox?tag={small_tag_id}"), 100: count_statements(app, client, "/line/inbox")}
    hits = {name: client.get(f"/line/search?q={text}").get_data(as_text=True).count("<mark") for name, text in QUERIES.items()}

    logdir = tempfile.mkdtemp(prefix="bench-chat-")
    port = free_port()
    sandbox_process = Process("sandbox", [sys.executable, "-m", "line_sandbox", "--host", "127.0.0.1", "--port",
                                          str(port), "--spec-dir", str(spec_dir())], None, logdir)
    try:
        sandbox = Sandbox(f"http://127.0.0.1:{port}")
        wait_http(sandbox.url + "/_sandbox/channels")
        app.config["LINE_API_BASE_URL"] = sandbox.url
        image_samples, image_bytes, received = bench_image(app, client, shop_id, friend_id, sandbox, args.images, rng)
    finally:
        sandbox_process.stop()
    results[("image", f"image send, {image_bytes / 1024 / 1024:.1f} MB JPEG (check, preview, store, push)")] = image_samples

    lines = ["| request | n | p50 ms | p95 ms | max ms | target p95 |", "|---|---:|---:|---:|---:|---|"]
    met_all = True
    for (kind, name), samples in results.items():
        p95 = pct(samples, 95)
        met = p95 <= TARGETS_MS[kind]
        met_all &= met
        lines.append(f"| {name} | {len(samples)} | {statistics.median(samples):.1f} | {p95:.1f} | {max(samples):.1f} | "
                     f"≤ {TARGETS_MS[kind]:g} ms {'met' if met else '**missed**'} |")
    table = "\n".join(lines)
    counts_met = counts[7] == counts[100]
    images_met = received == args.images + 3
    met_all &= counts_met and images_met
    summary = (f"SQL statements of the inbox page: {counts[7]} for 7 conversations, {counts[100]} for 100 "
               f"({'equal' if counts_met else '**not equal**'}). Highlighted hits on the search page: "
               + ", ".join(f"{name} {n}" for name, n in hits.items())
               + f". The sandbox received {received} image messages for {args.images + 3} uploads.")
    print(table)
    print(summary)
    if args.write_docs:
        command = "python bench/chat_ops.py " + " ".join(argv if argv is not None else sys.argv[1:])
        reuse_note = ("\n(`--reuse`: on the database an earlier run of the same command without it had filled.)\n"
                      if args.reuse else "")
        section = f"""{SECTION}

One premium shop with {args.friends:,} friends (nine in ten linked to a customer) and {args.messages:,}
messages, PostgreSQL with the pg_trgm index, server side through the Flask test client (no network).
Measured {datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')} on the shared 2-core machine.

    .venv/bin/{command.strip()}
{reuse_note}
{table}

{summary}

The 2-character queries have no trigram: PostgreSQL answers them either by walking the shop's
messages newest first until a page of hits is full (a common pair: it stops early) or through the
GIN index of characters and character pairs (`crm_short_grams`, a rare pair); the search words are
rendered into the SQL so that each search gets a plan for its own words. The image path is the whole composer request: Pillow's check and
preview, the two objects stored, and the push to the sandbox (jobs in-process), which validates the
message against messaging-api.yml.
"""
        ledger.write_docs(section, title=SECTION)
        print(f"wrote {ledger.DOCS}")
    return 0 if met_all else 1


if __name__ == "__main__":
    sys.exit(main())
