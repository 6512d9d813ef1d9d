"""LINE設定 as the demo owner finds it: the working demo channel says 接続済み, the rich menu what it is."""
import re

from crm import demo
from crm.extensions import db as _db
from crm.line_platform.services import channel_for_shop


def _text(html):
    return re.sub(r"<[^>]+>", " ", html)


def test_the_demo_channel_is_connected_and_its_rich_menu_described(app, db, client, line_sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "LINE_API_BASE_URL", line_sandbox.url)
    seeded = demo.seed_demo(customer_count=5)
    with app.test_request_context():
        demo.connect_demo_to_sandbox(seeded["shop_id"], line_sandbox.url, "http://127.0.0.1:5000")
    _db.session.commit()
    channel = channel_for_shop(seeded["shop_id"])
    assert channel.rich_menu_id.startswith("richmenu-")

    client.post_form("/login", {"email": demo.DEMO_OWNER_EMAIL, "password": demo.DEMO_PASSWORD})
    html = client.get("/settings/line").get_data(as_text=True)
    text = _text(html)
    assert "接続済み" in text and "未設定" not in text
    assert "Hair Salon Sakura" in text  # the bot the sandbox answered for
    assert channel.rich_menu_id not in html  # LINE's id means nothing to the owner
    menu = _text(html.split('id="rich-menu-status"', 1)[1].split("</p>", 1)[0])
    assert "設定済み" in menu and "予約メニュー" in menu
    assert "2500×843" in menu and "予約する / 予約を確認する" in menu
