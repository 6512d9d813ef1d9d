"""History export: CSV and Excel, unread messages and media references included."""
import csv
import io
from datetime import datetime, timezone

from openpyxl import load_workbook

from crm.conversations.models import Direction, LineMessage, SendStatus
from crm.extensions import db as _db
from tests.factories import make_customer, make_friend, make_staff


def _history(shop, owner):
    customer = make_customer(shop, family_name="山田", given_name="花子")
    friend = make_friend(shop, customer=customer, display_name="はなこ")
    stranger = make_friend(shop, display_name="ゆみ")
    rows = [
        LineMessage(shop_id=shop.id, friend_id=friend.id, direction=Direction.INCOMING, message_type="text",
                    text="予約したいです", payload={}, sent_at=datetime(2026, 5, 1, 1, 0, tzinfo=timezone.utc)),
        LineMessage(shop_id=shop.id, friend_id=friend.id, direction=Direction.OUTGOING, message_type="text",
                    text="=HYPERLINK(\"x\")", payload={}, status=SendStatus.SENT, sender_id=owner.id,
                    sent_at=datetime(2026, 5, 1, 1, 5, tzinfo=timezone.utc)),
        LineMessage(shop_id=shop.id, friend_id=friend.id, direction=Direction.INCOMING, message_type="image",
                    payload={}, media_status="stored", media_path="1/9.jpg", media_content_type="image/jpeg",
                    sent_at=datetime(2026, 5, 2, 3, 0, tzinfo=timezone.utc)),
        LineMessage(shop_id=shop.id, friend_id=stranger.id, direction=Direction.INCOMING, message_type="text",
                    text="はじめまして", payload={}, sent_at=datetime(2026, 5, 3, 3, 0, tzinfo=timezone.utc)),
    ]
    _db.session.add_all(rows)
    friend.unread_since = rows[2].sent_at  # the image is unread
    friend.unread_count = 1
    _db.session.flush()
    return customer, rows


def test_customer_csv_has_everything_including_unread_and_media(client, auth, line_shop):
    customer, rows = _history(line_shop.shop, line_shop.owner)
    auth.login(line_shop.owner)
    response = client.get(f"/customers/{customer.id}/line/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0][:3] == ["日時", "方向", "顧客"]
    assert len(table) == 4  # header + this customer's three messages; not the stranger's
    assert table[1][0] == "2026-05-01 10:00:00"  # shown in the shop's timezone
    assert table[2][9] == line_shop.owner.name and table[2][8] == "送信済み"
    assert table[2][5] == "'=HYPERLINK(\"x\")"  # a formula a customer typed stays text
    assert table[3][6].endswith(f"/line/media/{rows[2].id}") and table[3][11] == "未読"
    assert table[1][11] == ""  # read before the unread point


def test_shop_export_in_excel_is_owner_only(client, auth, line_shop):
    customer, rows = _history(line_shop.shop, line_shop.owner)
    auth.login(make_staff(line_shop.shop))
    assert client.get("/line/export.xlsx").status_code == 403
    auth.logout()
    auth.login(line_shop.owner)
    response = client.get("/line/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert len(values) == 5 and "はじめまして" in [row[5] for row in values]
    assert any(row[2] == "未連携" for row in values[1:])
    assert all(sheet_cell.data_type != "f" for row in sheet.iter_rows() for sheet_cell in row)


def test_export_of_another_shops_customer_is_404(client, auth, line_shop):
    from tests.factories import make_shop

    other, _ = make_shop()
    stranger = make_customer(other)
    make_friend(other, customer=stranger)
    auth.login(line_shop.owner)
    assert client.get(f"/customers/{stranger.id}/line/export.csv").status_code == 404


def test_a_customers_export_is_owner_only_as_the_shops_is(client, auth, line_shop):
    customer, _rows = _history(line_shop.shop, line_shop.owner)
    staff = make_staff(line_shop.shop)
    auth.login(staff)
    for kind in ("csv", "xlsx"):
        assert client.get(f"/customers/{customer.id}/line/export.{kind}").status_code == 403
        assert client.get(f"/line/export.{kind}").status_code == 403
    assert "/line/export." not in client.get(f"/customers/{customer.id}/line").get_data(as_text=True)
    auth.logout()
    auth.login(line_shop.owner)
    assert client.get(f"/customers/{customer.id}/line/export.csv").status_code == 200


def test_the_type_column_is_in_words_and_a_location_has_its_address(client, auth, line_shop):
    customer = make_customer(line_shop.shop, family_name="佐藤")
    friend = make_friend(line_shop.shop, customer=customer)
    at = datetime(2026, 6, 1, 1, 0, tzinfo=timezone.utc)
    kinds = [("text", {}, "こんにちは"), ("image", {}, None), ("sticker", {"packageId": "1", "stickerId": "2"}, None),
             ("location", {"title": "サロン前", "address": "東京都渋谷区神南1-2-3", "latitude": 35.66,
                           "longitude": 139.7}, None),
             ("video", {}, None), ("audio", {}, None), ("file", {"fileName": "a.pdf"}, None)]
    _db.session.add_all(
        LineMessage(shop_id=line_shop.shop.id, friend_id=friend.id, direction=Direction.INCOMING, message_type=kind,
                    text=text, payload=payload, sent_at=at.replace(minute=i))
        for i, (kind, payload, text) in enumerate(kinds))
    _db.session.flush()
    auth.login(line_shop.owner)
    text = client.get(f"/customers/{customer.id}/line/export.csv").get_data(as_text=True)
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert [row[4] for row in table[1:]] == ["テキスト", "写真", "スタンプ", "位置情報", "動画", "音声", "ファイル"]
    assert table[4][5] == "サロン前 東京都渋谷区神南1-2-3 (35.66, 139.7)"
    assert table[1][5] == "こんにちは"
