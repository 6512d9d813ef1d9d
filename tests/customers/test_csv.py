"""Customer CSV: encodings, column guessing, per-row checks, import modes and keys, export, owner only."""
import codecs
import io
import re
from datetime import date

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_login import login_user

from crm.customers import csv_export, csv_import, csv_io, tags
from crm.customers.models import Customer, CustomerImport
from crm.extensions import db as _db
from tests.factories import make_customer, make_shop, make_staff

TODAY = date(2026, 12, 3)
HEADER = "氏名,フリガナ,電話,メール,誕生日,タグ,メモ\r\n"


@pytest.fixture
def signed_in(client, auth, shop):
    auth.login(shop[1])
    return shop[0]


def _customers(shop):
    return _db.session.scalars(sa.select(Customer).where(Customer.shop_id == shop.id).order_by(Customer.id)).all()


# --- reading the file -------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, expected", [("utf-8-sig", "utf-8-sig"), ("utf-8", "utf-8"),
                                                ("cp932", "cp932"), ("shift_jis", "cp932")])
def test_encoding_is_detected(encoding, expected):
    data = (HEADER + "髙橋 花子,タカハシ ハナコ,090-1111-2222,,,,①\r\n").encode(encoding, errors="replace")
    assert csv_io.detect_encoding(data) == expected
    header, count = csv_io.inspect(data, expected, 10)
    assert header[0] == "氏名" and count == 1  # the BOM is not part of the first header


def test_a_shift_jis_file_with_a_bom_is_read_as_shift_jis(client, signed_in):
    data = codecs.BOM_UTF8 + (HEADER + "髙橋 花子,タカハシ ハナコ,090-1111-2222,,,,①\r\n").encode("cp932")
    assert csv_io.detect_encoding(csv_io.without_stray_bom(data)) == "cp932"
    assert csv_io.without_stray_bom(HEADER.encode("utf-8-sig")) == HEADER.encode("utf-8-sig")  # a real one stays
    response = _upload(client, data)  # was a 500: decoded as UTF-8 because of the BOM
    assert response.status_code == 302
    kept = _db.session.scalars(sa.select(CustomerImport)).one()
    assert kept.encoding == "cp932" and kept.row_count == 1
    assert "髙橋" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_undecodable_bytes_are_refused_with_a_message():
    with pytest.raises(csv_io.ImportFileError, match="文字コード"):
        csv_io.detect_encoding(b"\x81\x20\xff\xfe\x00name")


def test_limits_of_size_and_rows():
    with pytest.raises(csv_io.ImportFileError, match="上限 1 MB"):
        csv_io.read_upload(io.BytesIO(b"x" * (1024 * 1024 + 1)), 1024 * 1024)
    data = (HEADER + "山田,,,,,,\r\n" * 4).encode()
    assert csv_io.inspect(data, "utf-8", 4)[1] == 4
    with pytest.raises(csv_io.ImportFileError, match="上限 3 行"):
        csv_io.inspect(data, "utf-8", 3)
    with pytest.raises(csv_io.ImportFileError, match="データの行がありません"):
        csv_io.inspect(HEADER.encode(), "utf-8", 3)


def test_columns_are_guessed_from_japanese_and_english_headers():
    assert csv_io.guess_mapping(["お名前", "ふりがな", "携帯電話番号", "Eメール", "生年月日", "備考"]) == {
        "name": 0, "kana": 1, "phone": 2, "email": 3, "birthday": 4, "tags": None, "memo": 5}
    assert csv_io.guess_mapping(["Name", "Kana", "Phone", "Email", "Birthday", "Tags", "Memo"]) == {
        "name": 0, "kana": 1, "phone": 2, "email": 3, "birthday": 4, "tags": 5, "memo": 6}
    assert csv_io.guess_mapping(["会員番号", "顧客名（漢字）", "TEL（自宅）"])["name"] == 1


@pytest.mark.parametrize("text, expected", [
    ("1990/1/2", date(1990, 1, 2)), ("1990-01-02", date(1990, 1, 2)), ("1990.1.2", date(1990, 1, 2)),
    ("1990年1月2日", date(1990, 1, 2)), ("１９９０／０１／０２", date(1990, 1, 2)), ("19900102", date(1990, 1, 2)),
    ("1990/01/02 0:00", date(1990, 1, 2)), ("平成2年1月2日", date(1990, 1, 2)), ("H2.1.2", date(1990, 1, 2)),
    ("平成元年1月8日", date(1989, 1, 8)), ("昭和64年1月7日", date(1989, 1, 7)), ("令和2年5月1日", date(2020, 5, 1)),
    ("S60/3/4", date(1985, 3, 4)),
])
def test_birthdays_in_japanese_formats(text, expected):
    assert csv_io.parse_birthday(text, TODAY) == expected


@pytest.mark.parametrize("text", ["90/1/2", "1990/2/30", "平成32年1月1日", "2999/1/1", "1/2/1990", "昨日"])
def test_birthdays_that_are_not_guessed(text):
    with pytest.raises(ValueError):
        csv_io.parse_birthday(text, TODAY)


def _parse(line, mapping=None):
    cells = next(csv_io.records(line.encode(), "utf-8"))
    return csv_io.parse_row(2, cells, mapping or csv_io.guess_mapping(HEADER.strip().split(",")), "JP", TODAY)


def test_a_good_row_is_split_and_normalized():
    row = _parse("山田　花子,やまだ はなこ,０９０ー１１１１ー２２２２,hanako@example.com,1990/4/1,VIP、カラー,\"初回\n紹介\"")
    assert row.ok, row.errors
    assert row.values["family_name"] == "山田" and row.values["given_name"] == "花子"
    assert row.values["family_name_kana"] == "やまだ"
    assert row.phone.e164 == "+819011112222"
    assert row.values["birthday"] == date(1990, 4, 1)
    assert row.tags == ["VIP", "カラー"] and row.values["memo"] == "初回\n紹介"


def test_a_bad_row_lists_every_problem():
    row = _parse(",yamada,090-12,not-mail,1990/13/1,,")
    reasons = " ".join(str(e) for e in row.errors)
    for expected in ("氏名がありません", "フリガナ", "電話番号として正しくありません", "メールアドレス", "誕生日"):
        assert expected in reasons


def test_the_exports_formula_guard_is_undone():
    row = _parse("山田,,'+81 90-1111-2222,,,,'=1+1")
    assert row.phone.e164 == "+819011112222" and row.values["memo"] == "=1+1"


def test_a_control_character_is_an_error_of_its_row():
    row = _parse("山田\x1b,,,,,,")
    assert not row.ok and "制御文字" in str(row.errors[0])


# --- importing ----------------------------------------------------------------------------------

def _run(shop, text, key="phone", mode="skip", encoding="utf-8"):
    data = text.encode(encoding)
    mapping = csv_io.guess_mapping(next(csv_io.records(data, encoding)))
    return csv_import.run_import(shop.id, data, encoding, mapping, key, mode, "JP", TODAY)


def test_import_creates_customers_and_tags(db, shop):
    s = shop[0]
    existing_tag = tags.create_tag(s.id, "VIP", "red")
    report = _run(s, HEADER + "山田 花子,ヤマダ ハナコ,090-1111-2222,a@example.com,1990/4/1,VIP、新規,メモ\r\n"
                            "鈴木,,,,,,\r\n\r\n,,,,,,\r\n")
    assert (report.created, report.updated, report.skipped) == (2, 0, [])
    yamada, suzuki = _customers(s)
    assert yamada.phone_e164 == "+819011112222" and yamada.kana_norm == "ヤマダハナコ" and yamada.name_norm == "山田花子"
    assert [t.name for t in tags.tags_for_customers(s.id, [yamada.id])[yamada.id]] == ["VIP", "新規"]
    assert tags.find_by_name(s.id, "新規").colour == "gray" and tags.find_by_name(s.id, "VIP").id == existing_tag.id
    assert suzuki.given_name == "" and suzuki.phone is None


def test_existing_customers_are_skipped_by_default_and_reported(db, shop):
    s = shop[0]
    make_customer(s, family_name="元", given_name="のまま", phone="090-1111-2222")
    report = _run(s, HEADER + "山田 花子,,09011112222,,,,\r\n鈴木,,090-12,,,,\r\n")
    assert report.created == 0 and report.updated == 0
    assert report.skipped[0][0] == 2 and "登録済み" in report.skipped[0][1][0] and "電話番号" in report.skipped[0][1][0]
    assert report.skipped[1][0] == 3 and "電話番号として正しくありません" in report.skipped[1][1][0]
    assert _customers(s)[0].full_name == "元 のまま"


def test_update_mode_by_email_overwrites_filled_cells_only(db, shop):
    s = shop[0]
    old = make_customer(s, family_name="旧姓", given_name="花子", phone="090-1111-2222", email="Hanako@Example.com",
                        memo="大事なメモ")
    vip = tags.create_tag(s.id, "VIP")
    tags.add_tags(old, [vip])
    report = _run(s, HEADER + "新姓 花子,,,hanako@example.com,1990/4/1,VIP、常連,\r\n", key="email", mode="update")
    assert (report.created, report.updated) == (0, 1)
    (customer,) = _customers(s)
    _db.session.refresh(customer)
    assert customer.family_name == "新姓" and customer.name_norm == "新姓花子"
    assert customer.phone_e164 == "+819011112222" and customer.memo == "大事なメモ"  # empty cells keep the ledger
    assert customer.birthday == date(1990, 4, 1)
    assert {t.name for t in tags.tags_for_customers(s.id, [customer.id])[customer.id]} == {"VIP", "常連"}


def test_a_key_matching_two_customers_is_reported_not_guessed(db, shop):
    s = shop[0]
    make_customer(s, family_name="一", phone="090-1111-2222")
    make_customer(s, family_name="二", phone="090-1111-2222")
    report = _run(s, HEADER + "三,,090-1111-2222,,,,\r\n", mode="update")
    assert report.updated == 0 and "複数" in report.skipped[0][1][0]


def test_the_same_key_twice_in_one_file(db, shop):
    s = shop[0]
    lines = "".join(f"客{i},,090-2000-{i:04d},,,,\r\n" for i in range(csv_import.BATCH + 5))
    report = _run(s, HEADER + "山田,,090-1111-2222,,,A,\r\n" + lines + "山田 二回目,,090-1111-2222,,,B,\r\n",
                  mode="update")
    assert report.created == csv_import.BATCH + 6 and report.updated == 1  # the second row updated the first
    yamada = _db.session.scalars(sa.select(Customer).where(Customer.phone_e164 == "+819011112222")).one()
    assert yamada.given_name == "二回目"
    assert {t.name for t in tags.tags_for_customers(s.id, [yamada.id])[yamada.id]} == {"A", "B"}
    report = _run(s, HEADER + "山田,,090-1111-2222,,,,\r\n")
    assert report.created == 0 and len(report.skipped) == 1


def test_import_never_touches_another_shop(db, shop):
    other, _owner = make_shop()
    theirs = make_customer(other, family_name="他店", phone="090-1111-2222", email="a@example.com")
    tags.create_tag(other.id, "VIP", "red")
    report = _run(shop[0], HEADER + "山田,,090-1111-2222,a@example.com,,VIP,\r\n", mode="update")
    assert report.created == 1 and report.updated == 0
    _db.session.refresh(theirs)
    assert theirs.family_name == "他店"
    assert tags.find_by_name(shop[0].id, "VIP").id != tags.find_by_name(other.id, "VIP").id


def test_statements_grow_with_the_batches_not_the_rows(shop, count_queries, monkeypatch):
    s = shop[0]
    monkeypatch.setattr(csv_import, "BATCH", 10)
    for i in range(0, 40, 2):
        make_customer(s, family_name="既存", phone=f"090-4000-{i:04d}")
    tags.get_or_create_tags(s.id, ["VIP"])
    text = HEADER + "".join(f"客 {i},,090-4000-{i:04d},,,VIP,\r\n" for i in range(40))  # half new, half updates
    data = text.encode()
    mapping = csv_io.guess_mapping(HEADER.strip().split(","))
    with count_queries() as statements:
        report = csv_import.run_import(s.id, data, "utf-8", mapping, "phone", "update", "JP", TODAY)
    assert (report.created, report.updated) == (20, 20)
    inserts = [s for s in statements if s.startswith("INSERT INTO customers ")]
    postgresql = _db.session.get_bind().dialect.name == "postgresql"
    assert len(inserts) == (4 if postgresql else 20)  # SQLite: an INSERT ... RETURNING per row, in process
    # per batch of 10: find by key, load the updated, update them, (PostgreSQL: take the new ids), insert the
    # new, their current tags, the new tags; plus the shop's tags once
    assert len(statements) - len(inserts) <= 1 + 4 * 6


# --- the pages --------------------------------------------------------------------------------

def _upload(client, data, filename="customers.csv"):
    if len(data) > 400 * 1024:
        # werkzeug's test client spools a large multipart body to a temporary file it never
        # closes (a ResourceWarning); the body is built here instead.
        boundary = "----crm-test-boundary"
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{client.csrf_token()}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                f"Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return client.post("/customers/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    return client.post_form("/customers/import", {"file": (io.BytesIO(data), filename)},
                            content_type="multipart/form-data")


def test_upload_map_preview_and_import_a_shift_jis_file(client, signed_in):
    make_customer(signed_in, family_name="既存", phone="090-3333-4444")
    data = ("名前,電話番号,誕生日,区分\r\n髙橋 花子,090-1111-2222,平成2年1月2日,VIP\r\n"
            "既存 さん,090-3333-4444,,\r\n悪い,090-12,1990/2/30,\r\n").encode("cp932")
    response = _upload(client, data)
    assert response.status_code == 302
    kept = _db.session.scalars(sa.select(CustomerImport)).one()
    assert (kept.encoding, kept.row_count) == ("cp932", 3)
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'<select name="map_name".*?<option value="0" selected>1: 名前</option>', html, re.S)
    assert re.search(r'<select name="map_tags".*?<option value="" >|<select name="map_tags" id="map-tags">\s*<option value="">', html, re.S)
    assert "新規登録" in html and "スキップ（登録済み）" in html and "電話番号として正しくありません" in html
    assert "髙橋" in html  # decoded from Shift_JIS

    form = {"map_name": "0", "map_phone": "1", "map_birthday": "2", "map_tags": "3", "key": "phone", "mode": "skip"}
    response = client.post_form(f"/customers/import/{kept.id}", {**form, "action": "preview"})
    assert response.status_code == 200 and "VIP" in response.get_data(as_text=True)
    response = client.post_form(f"/customers/import/{kept.id}", {**form, "action": "run"})
    assert response.status_code == 302  # the import is a job (run at once in tests); its page shows the report
    response = client.get(response.headers["Location"])
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "新規登録: 1 人" in html and "スキップ: 2 行" in html
    assert re.search(r"<td>3</td><td><div class=\"row-error\">登録済みのためスキップしました", html)
    assert re.search(r"<td>4</td><td><div class=\"row-error\">電話番号として正しくありません.*?誕生日", html, re.S)
    takahashi = _db.session.scalars(sa.select(Customer).where(Customer.family_name == "髙橋")).one()
    assert takahashi.birthday == date(1990, 1, 2)
    assert [t.name for t in tags.tags_for_customers(signed_in.id, [takahashi.id])[takahashi.id]] == ["VIP"]
    _db.session.scalars(sa.select(CustomerImport)).one()  # the report stays, the file's bytes are gone
    assert _db.session.scalar(sa.select(sa.func.length(CustomerImport.data))) == 0


def test_mapping_errors_are_shown_and_nothing_is_imported(client, signed_in):
    _upload(client, (HEADER + "山田,,090-1111-2222,,,,\r\n").encode("utf-8-sig"))
    kept = _db.session.scalars(sa.select(CustomerImport)).one()
    response = client.post_form(f"/customers/import/{kept.id}", {"map_phone": "2", "map_memo": "2", "key": "email",
                                                                  "mode": "skip", "action": "run"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for expected in ("「氏名」の列を選んでください", "「メール」の列を選んでください", "同じ列を二つの項目"):
        assert expected in html
    assert _customers(signed_in) == []


@pytest.mark.parametrize("data, message", [
    (b"", "CSVファイルを選んでください"),
    (b"\xff\xfe\x81\x20", "文字コードを判別できません"),
    (HEADER.encode(), "データの行がありません"),
])
def test_bad_uploads_answer_beside_the_field(client, signed_in, data, message):
    response = _upload(client, data) if data else client.post_form("/customers/import", {},
                                                                   content_type="multipart/form-data")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_too_large_and_too_many_rows(client, signed_in, app, monkeypatch):
    monkeypatch.setitem(app.config, "CUSTOMER_IMPORT_MAX_ROWS", 2)
    response = _upload(client, (HEADER + "山田,,,,,,\r\n" * 3).encode())
    assert response.status_code == 422 and "上限 2 行" in response.get_data(as_text=True)
    # larger than the app-wide 2 MB body limit, under the import's own: read, then refused by its own limit
    monkeypatch.setitem(app.config, "CUSTOMER_IMPORT_MAX_ROWS", 200000)
    big = (HEADER + "山田 太郎,ヤマダ タロウ,,,,,\r\n" * 120000).encode()
    assert 2 * 1024 * 1024 < len(big) < 5 * 1024 * 1024
    response = _upload(client, big)
    assert response.status_code == 302
    monkeypatch.setitem(app.config, "CUSTOMER_IMPORT_MAX_BYTES", 1024 * 1024)
    response = _upload(client, big[: 1024 * 1024 + 10])
    assert response.status_code == 422 and "上限 1 MB" in response.get_data(as_text=True)
    response = _upload(client, big[: 1024 * 1024 + 100 * 1024])  # past the body limit itself
    assert response.status_code == 413
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(CustomerImport)) == 1  # only the good one


def test_import_and_export_are_owner_only(client, auth, shop):
    s = shop[0]
    auth.login(make_staff(s))
    for url in ("/customers/import", "/customers/export", "/customers/export.csv", "/customers/export.xlsx"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].endswith("/customers/"), url
    assert "CSV取り込み" not in client.get("/customers/").get_data(as_text=True)


def test_another_shops_upload_is_404(client, signed_in):
    other, _owner = make_shop()
    theirs = CustomerImport(shop_id=other.id, filename="x.csv", encoding="utf-8", row_count=1,
                            data=(HEADER + "他店,,,,,,\r\n").encode())
    _db.session.add(theirs)
    _db.session.flush()
    assert client.get(f"/customers/import/{theirs.id}").status_code == 404
    assert client.post_form(f"/customers/import/{theirs.id}", {"action": "run", "key": "phone",
                                                               "map_name": "0"}).status_code == 404
    assert client.post_form(f"/customers/import/{theirs.id}/cancel").status_code == 404
    assert _customers(other) == []


# --- export -----------------------------------------------------------------------------------

def test_the_streamed_csv_header_is_translated_in_the_request(app, db, shop):
    owner = shop[1]
    owner.locale = "en"
    make_customer(shop[0], family_name="髙橋")
    with app.test_request_context("/customers/export.csv"):
        login_user(owner)
        with force_locale("en"):
            english = csv_export.headers()
        chunks = csv_export.csv_chunks(shop[0].id)
    # A server reads the body after the request is over (its signed-in user gone): was 氏名, or a 500 mid-download.
    lines = b"".join(chunks).decode("utf-8-sig").splitlines()
    assert english[0] == "Name" and lines[0].split(",") == english
    assert lines[1].startswith("髙橋")


def test_export_csv_with_bom_and_cp932_and_reimport(client, signed_in):
    other, _owner = make_shop()
    make_customer(other, family_name="他店")
    hanako = make_customer(signed_in, family_name="髙橋", given_name="花子", family_name_kana="タカハシ",
                           given_name_kana="ハナコ", phone="090-1111-2222", email="h@example.com",
                           birthday=date(1990, 1, 2), memo="=HYPERLINK(\"x\")")
    tags.add_tags(hanako, tags.get_or_create_tags(signed_in.id, ["VIP", "カラー"]))
    page = client.get("/customers/export").get_data(as_text=True)
    assert 'href="/customers/export.csv?encoding=cp932"' in page and 'href="/customers/export.xlsx"' in page
    response = client.get("/customers/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert text.splitlines()[0] == "氏名,フリガナ,電話,メール,誕生日,タグ,メモ"
    assert "髙橋 花子,タカハシ ハナコ,090-1111-2222,h@example.com,1990/01/02,VIP、カラー,\"'=HYPERLINK(\"\"x\"\")\"" in text
    assert "他店" not in text

    sjis = client.get("/customers/export.csv?encoding=cp932").get_data()
    assert "shift_jis" in client.get("/customers/export.csv?encoding=cp932").headers["Content-Type"]
    assert "髙橋" in sjis.decode("cp932")

    xlsx = client.get("/customers/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"

    # the export reads back as the same customer (update by phone changes nothing)
    data = body
    encoding = csv_io.detect_encoding(data)
    mapping = csv_io.guess_mapping(next(csv_io.records(data, encoding)))
    assert None not in mapping.values()
    (row,) = [csv_io.parse_row(n, cells, mapping, "JP", TODAY) for n, cells in csv_io.data_rows(data, encoding)]
    assert row.ok and row.values["memo"] == "=HYPERLINK(\"x\")" and row.tags == ["VIP", "カラー"]
    assert row.values["birthday"] == date(1990, 1, 2) and row.phone.e164 == "+819011112222"


def test_export_query_count_is_per_batch(client, signed_in, count_queries):
    for i in range(30):
        make_customer(signed_in, family_name=f"客{i}")
    with count_queries() as statements:
        client.get("/customers/export.csv").get_data()
    # the signed-in staff member, one batch of customers, its tags, the empty batch after it
    assert len(statements) <= 5
