"""Demo salon data for a newcomer's first run (`flask crm seed-demo`)."""
import random
from datetime import date, timedelta

import sqlalchemy as sa

from crm.bookings.demo import seed_booking_demo
from crm.bookings.texts import booking_page_url
from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.customers.normalize import normalize_phone
from crm.customers.services import set_phone
from crm.database import utcnow
from crm.extensions import db
from crm.line_platform.channels import mark_connected
from crm.line_platform.richmenu import install
from crm.line_platform.services import channel_for_shop, save_channel
from crm.shops.models import Plan, Shop
from crm.staff.models import LineSendMode, Role, Staff
from crm.staff.onboarding import create_shop
from crm.staff.services import create_staff, reset_password

DEMO_OWNER_EMAIL = "owner@demo-salon.example"
DEMO_PASSWORD = "demo-salon-2026"

FAMILY_NAMES = [
    ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
    ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"),
    ("井上", "イノウエ"), ("木村", "キムラ"), ("林", "ハヤシ"), ("斎藤", "サイトウ"), ("清水", "シミズ"),
    ("山崎", "ヤマザキ"), ("森", "モリ"), ("池田", "イケダ"), ("橋本", "ハシモト"), ("阿部", "アベ"),
]
GIVEN_NAMES = [
    ("陽菜", "ヒナ"), ("結衣", "ユイ"), ("美咲", "ミサキ"), ("さくら", "サクラ"), ("葵", "アオイ"),
    ("凛", "リン"), ("優奈", "ユウナ"), ("愛", "アイ"), ("彩花", "アヤカ"), ("真由美", "マユミ"),
    ("恵子", "ケイコ"), ("裕子", "ユウコ"), ("由美子", "ユミコ"), ("麻衣", "マイ"), ("千尋", "チヒロ"),
    ("翔太", "ショウタ"), ("大輔", "ダイスケ"), ("健太", "ケンタ"), ("拓也", "タクヤ"), ("蓮", "レン"),
    ("悠斗", "ユウト"), ("直樹", "ナオキ"), ("亮", "リョウ"), ("花子", "ハナコ"), ("太郎", "タロウ"),
]
MEMOS = [
    "カラーは暗めのアッシュ希望。前回 6トーン。",
    "敏感肌のためシャンプーは低刺激のものを使用。",
    "毎月第2土曜の午前に来店されることが多い。",
    "お子様連れで来店されることあり。",
    "",
    "前髪は眉上NG。",
    "",
]
LINE_NAMES = ["🌸", "ちゃん", "", "☆", "_", ""]


def _phone(rng):
    prefix = rng.choice(["090", "080", "070"])
    return f"{prefix}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"


def seed_demo(customer_count=50):
    """Create the demo shop once; on later runs reset the demo password and reuse it."""
    owner = db.session.scalars(sa.select(Staff).where(Staff.email == DEMO_OWNER_EMAIL)).first()
    if owner is not None:
        reset_password(owner, DEMO_PASSWORD)
        return _result(owner.shop, created=False)

    rng = random.Random(20250110)
    shop, owner = create_shop(
        name="Hair Salon Sakura（デモ）",
        owner_email=DEMO_OWNER_EMAIL,
        owner_password=DEMO_PASSWORD,
        owner_name="桜井 美穂",
        plan=Plan.PREMIUM,
    )
    create_staff(shop, name="青木 翼", email="tsubasa@demo-salon.example", password=DEMO_PASSWORD,
                 role=Role.STAFF, line_send_mode=LineSendMode.DIRECT)
    create_staff(shop, name="小川 芽衣", email="mei@demo-salon.example", password=DEMO_PASSWORD,
                 role=Role.STAFF, line_send_mode=LineSendMode.APPROVAL)

    now = utcnow()
    used_phones = set()
    for index in range(customer_count):
        family, family_kana = rng.choice(FAMILY_NAMES)
        given, given_kana = rng.choice(GIVEN_NAMES)
        phone = _phone(rng)
        while phone in used_phones:
            phone = _phone(rng)
        used_phones.add(phone)
        created = now - timedelta(days=rng.randint(0, 720), minutes=rng.randint(0, 1440))
        customer = Customer(
            shop_id=shop.id,
            family_name=family,
            given_name=given,
            family_name_kana=family_kana,
            given_name_kana=given_kana,
            email=f"customer{index + 1}@example.jp" if rng.random() < 0.4 else None,
            birthday=date(rng.randint(1960, 2005), rng.randint(1, 12), rng.randint(1, 28)) if rng.random() < 0.6 else None,
            memo=rng.choice(MEMOS),
            created_at=created,
            updated_at=created,
        )
        set_phone(customer, phone, normalize_phone(phone))
        customer.refresh_match_keys()
        db.session.add(customer)
        db.session.flush()
        if index % 3 == 0:  # about a third of the customers have linked their LINE
            db.session.add(
                LineFriend(
                    shop_id=shop.id,
                    line_user_id=f"U{rng.getrandbits(128):032x}",
                    display_name=given + rng.choice(LINE_NAMES),
                    customer_id=customer.id,
                    linked_at=created + timedelta(days=1),
                    followed=rng.random() > 0.05,
                )
            )
    for name in ("ゆみ", "Mika", "たなか"):  # friends who have not linked yet (未連携)
        db.session.add(LineFriend(shop_id=shop.id, line_user_id=f"U{rng.getrandbits(128):032x}", display_name=name))
    db.session.flush()
    return _result(shop, created=True)


def _result(shop, created):
    return {
        "shop_id": shop.id,
        "shop_name": shop.name,
        "created": created,
        "owner_email": DEMO_OWNER_EMAIL,
        "owner_password": DEMO_PASSWORD,
        "staff_emails": ["tsubasa@demo-salon.example", "mei@demo-salon.example"],
    }


DEMO_CHANNEL = {
    "channel_id": "2000000001",
    "channel_secret": "0123456789abcdef0123456789abcdef",
    "channel_access_token": "demo-salon-channel-access-token-for-the-line-sandbox",
    "bot_name": "Hair Salon Sakura",
    "chat_mode": "bot",
}


def _post_json(url, body, method="POST"):
    import json
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method=method
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def connect_demo_to_sandbox(shop_id, sandbox_url, public_base_url):
    """Register the demo salon's channel and friends in the LINE sandbox and connect the shop to it."""
    from flask import url_for


    channel = channel_for_shop(shop_id)
    save_channel(channel, DEMO_CHANNEL["channel_id"], DEMO_CHANNEL["channel_secret"], DEMO_CHANNEL["channel_access_token"])
    path = url_for("line_platform.webhook", key=channel.webhook_key)
    sandbox_url = sandbox_url.rstrip("/")
    _post_json(f"{sandbox_url}/_sandbox/channels", {**DEMO_CHANNEL, "webhook_url": public_base_url.rstrip("/") + path})
    friends = db.session.scalars(sa.select(LineFriend).where(LineFriend.shop_id == shop_id)).all()
    for friend in friends:  # the phone page can then act as each demo friend
        _post_json(f"{sandbox_url}/_sandbox/users", {"user_id": friend.line_user_id, "display_name": friend.display_name})
        status = "friend" if friend.followed else "blocked"
        _post_json(f"{sandbox_url}/_sandbox/channels/{DEMO_CHANNEL['channel_id']}/users/{friend.line_user_id}/friendship",
                   {"status": status}, method="PUT")

    shop = db.session.get(Shop, shop_id)
    seed_booking_demo(shop, sandbox_url=sandbox_url, bot_channel_id=DEMO_CHANNEL["channel_id"])
    install(channel, booking_page_url(shop))  # 予約する・予約を確認する on the sandbox phone
    # The sandbox now has the channel with its webhook URL: LINE設定 says 接続済み, as it works.
    mark_connected(channel)
    db.session.flush()
    return {"channel_id": DEMO_CHANNEL["channel_id"], "webhook_path": path, "phone_url": f"{sandbox_url}/phone",
            "booking_url": booking_page_url(shop)}
