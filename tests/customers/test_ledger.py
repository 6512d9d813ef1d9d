"""The ledger: add, edit, delete, search, sort, paginate, LINE linkage shown."""
import re

import pytest
import sqlalchemy as sa

from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.extensions import db as _db
from tests.factories import make_customer, make_friend


@pytest.fixture
def signed_in(client, auth, shop):
    auth.login(shop[1])
    return shop[0]


def _form(**overrides):
    data = {
        "family_name": "山田", "given_name": "花子", "family_name_kana": "やまだ", "given_name_kana": "ﾊﾅｺ",
        "phone": "０９０ー１１１１ー２２２２", "email": "hanako@example.com", "birthday": "1990-04-01", "memo": "初回",
    }
    data.update(overrides)
    return data


def _customers(shop):
    return _db.session.scalars(sa.select(Customer).where(Customer.shop_id == shop.id)).all()


def test_add_customer_stores_entered_and_normalized_values(client, signed_in):
    response = client.post_form("/customers/new", _form())
    assert response.status_code == 302
    (customer,) = _customers(signed_in)
    assert response.headers["Location"].endswith(f"/customers/{customer.id}")
    assert customer.phone == "０９０ー１１１１ー２２２２"
    assert customer.phone_e164 == "+819011112222"
    assert customer.phone_national == "09011112222"
    assert customer.name_norm == "山田花子"
    assert customer.kana_norm == "ヤマダハナコ"
    assert customer.created_at.tzinfo is not None


def test_bad_phone_shows_the_error_beside_the_field_and_keeps_the_input(client, signed_in):
    response = client.post_form("/customers/new", _form(phone="090-12"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    field = re.search(r'<div class="field\s+has-error">\s*<label for="phone".*?</div>', html, re.S).group(0)
    assert "電話番号として正しくありません" in field
    assert 'value="090-12"' in field
    assert 'value="花子"' in html  # nothing the user typed is lost
    assert _customers(signed_in) == []


def test_required_and_format_errors_are_per_field(client, signed_in):
    response = client.post_form(
        "/customers/new", _form(family_name="", email="not-an-email", family_name_kana="yamada", birthday="2999-01-01")
    )
    html = response.get_data(as_text=True)
    assert "姓を入力してください。" in html
    assert "メールアドレスの形式が正しくありません。" in html
    assert "フリガナはカタカナまたはひらがなで入力してください。" in html
    assert "誕生日の日付が正しくありません。" in html
    assert _customers(signed_in) == []


def test_duplicate_phone_warns_with_a_link_and_saves_only_when_confirmed(client, signed_in):
    existing = make_customer(signed_in, phone="090-1111-2222")
    response = client.post_form("/customers/new", _form(phone="+81 90 1111 2222"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "この電話番号の顧客が既に登録されています。" in html
    assert f'href="/customers/{existing.id}"' in html
    assert len(_customers(signed_in)) == 1

    response = client.post_form("/customers/new", _form(phone="+81 90 1111 2222", confirm_duplicate="y"))
    assert response.status_code == 302
    assert len(_customers(signed_in)) == 2


def test_editing_a_customer_keeps_its_own_phone_without_a_warning(client, signed_in):
    customer = make_customer(signed_in, phone="090-1111-2222")
    response = client.post_form(
        f"/customers/{customer.id}/edit", _form(family_name="佐藤", phone="09011112222")
    )
    assert response.status_code == 302
    _db.session.refresh(customer)
    assert customer.family_name == "佐藤"
    assert customer.name_norm == "佐藤花子"


def test_delete_customer_keeps_the_line_friend_unlinked(client, signed_in):
    customer = make_customer(signed_in)
    friend = make_friend(signed_in, customer=customer)
    response = client.post_form(f"/customers/{customer.id}/delete")
    assert response.status_code == 302
    assert _customers(signed_in) == []
    _db.session.expire_all()
    friend = _db.session.get(LineFriend, friend.id)
    assert friend is not None and friend.customer_id is None


@pytest.mark.parametrize(
    "query",
    ["０９０ー１２３４", "090-1234", "09012345678", "+81 90 1234 5678", "5678", "山田", "山田 太", "太郎",
     "やまだ", "ﾔﾏﾀﾞ ﾀﾛｳ", "タロウ", "ヤマダタ"],
)
def test_search_finds_by_partial_phone_name_or_kana(client, signed_in, query):
    make_customer(signed_in, phone="090-1234-5678")
    make_customer(signed_in, family_name="佐藤", given_name="花子", family_name_kana="サトウ",
                  given_name_kana="ハナコ", phone="080-9999-0000")
    response = client.htmx_get("/customers/", "customer-results", query_string={"q": query})
    html = response.get_data(as_text=True)
    assert "山田 太郎" in html
    assert "佐藤 花子" not in html


def test_search_treats_like_wildcards_literally(client, signed_in):
    make_customer(signed_in)
    html = client.htmx_get("/customers/?q=%25", "customer-results").get_data(as_text=True)
    assert "山田 太郎" not in html
    assert "該当する顧客はいません。" in html


def test_search_fragment_and_page_share_a_url_and_vary_on_hx_request(client, signed_in):
    make_customer(signed_in)
    fragment = client.htmx_get("/customers/?q=山田", "customer-results")
    page = client.get("/customers/?q=山田")
    assert "HX-Request" in fragment.headers["Vary"] and "HX-Request" in page.headers["Vary"]
    assert "<html" not in fragment.get_data(as_text=True)
    assert "<html" in page.get_data(as_text=True)
    assert 'value="山田"' in page.get_data(as_text=True)


def test_sorting_by_kana_newest_and_updated(client, signed_in):
    from datetime import datetime, timezone

    old = make_customer(signed_in, family_name="和田", family_name_kana="ワダ", given_name="", given_name_kana="",
                        created_at=datetime(2020, 1, 1, tzinfo=timezone.utc))
    new = make_customer(signed_in, family_name="青木", family_name_kana="アオキ", given_name="", given_name_kana="",
                        created_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    nokana = make_customer(signed_in, family_name="Smith", family_name_kana="", given_name="", given_name_kana="",
                           created_at=datetime(2021, 1, 1, tzinfo=timezone.utc))

    def order(sort):
        html = client.htmx_get(f"/customers/?sort={sort}", "customer-results").get_data(as_text=True)
        return [int(i) for i in re.findall(r'href="/customers/(\d+)"', html)]

    assert order("kana") == [new.id, old.id, nokana.id]  # customers without kana come last
    assert order("newest") == [new.id, nokana.id, old.id]


def test_pagination(client, signed_in, app, monkeypatch):
    monkeypatch.setitem(app.config, "CUSTOMERS_PER_PAGE", 2)
    for i in range(5):
        make_customer(signed_in, family_name=f"客{i}", family_name_kana="アイウエオ"[i], given_name="", given_name_kana="")
    page1 = client.get("/customers/").get_data(as_text=True)
    page3 = client.get("/customers/?page=3").get_data(as_text=True)
    beyond = client.get("/customers/?page=99").get_data(as_text=True)
    assert "客0" in page1 and "客1" in page1 and "客2" not in page1
    assert "客4" in page3 and "3 / 3" in page3
    assert "客4" in beyond  # a page past the end shows the last page
    assert "5件" in page1


def test_list_shows_line_mark_only_on_linked_customers(client, signed_in):
    linked = make_customer(signed_in, family_name="連携")
    make_customer(signed_in, family_name="未連携さん")
    make_friend(signed_in, customer=linked, display_name="はなこ🌸")
    html = client.get("/customers/").get_data(as_text=True)
    items = re.findall(r'<li class="list-item">(.*?)</li>', html, re.S)
    marks = {("連携 太郎" in item, 'class="line-mark"' in item) for item in items}
    assert marks == {(True, True), (False, False)}


def test_detail_shows_line_name_or_unlinked(client, signed_in):
    linked = make_customer(signed_in, family_name="連携")
    unlinked = make_customer(signed_in, family_name="未")
    make_friend(signed_in, customer=linked, display_name="はなこ🌸")
    linked_html = client.get(f"/customers/{linked.id}").get_data(as_text=True)
    unlinked_html = client.get(f"/customers/{unlinked.id}").get_data(as_text=True)
    assert re.search(r"LINE名</dt>\s*<dd[^>]*>はなこ🌸", linked_html)
    assert re.search(r"LINE名</dt>\s*<dd[^>]*><span class=\"muted\">未連携</span>", unlinked_html)
    assert f'/customers/{linked.id}/line"' in linked_html
    assert f'/customers/{unlinked.id}/line"' not in unlinked_html


def test_tabs_switch_as_fragments(client, signed_in):
    customer = make_customer(signed_in)
    make_friend(signed_in, customer=customer, display_name="たろう")
    base = f"/customers/{customer.id}"
    for path, text in (("/line", "たろう"), ("/bookings", "予約はまだありません。"), ("", "LINE名")):
        response = client.htmx_get(base + path, "customer-tabs")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "<html" not in html and 'role="tablist"' in html and text in html
        assert "HX-Request" in response.headers["Vary"]
        assert "<html" in client.get(base + path).get_data(as_text=True)


def test_line_tab_does_not_exist_for_unlinked_customers(client, signed_in):
    customer = make_customer(signed_in)
    assert client.get(f"/customers/{customer.id}/line").status_code == 404
    assert client.get(f"/customers/{customer.id}/nonsense").status_code == 404


def test_markup_in_name_and_memo_is_shown_as_text(client, signed_in):
    customer = make_customer(
        signed_in, family_name="<script>alert(1)</script>", memo='<img src=x onerror="alert(2)">\n二行目'
    )
    make_friend(signed_in, customer=customer, display_name="<b>bold</b>")
    for url in ("/customers/", f"/customers/{customer.id}", f"/customers/{customer.id}/line", f"/customers/{customer.id}/edit"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in html
        assert "<img src=x" not in html
        assert "<b>bold</b>" not in html
    html = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html


def test_list_page_query_count_does_not_grow_with_page_size(client, signed_in, app, count_queries, monkeypatch):
    from crm.customers import tags

    vip, new = tags.create_tag(signed_in.id, "VIP", "red"), tags.create_tag(signed_in.id, "新規", "blue")
    for i in range(30):
        customer = make_customer(signed_in, family_name=f"客{i}", phone=f"090-1000-{i:04d}")
        tags.add_tags(customer, [vip, new] if i % 3 else [vip])
        if i % 2:
            make_friend(signed_in, customer=customer, display_name=f"友{i}")
    counts = {}
    for per_page in (5, 30):
        monkeypatch.setitem(app.config, "CUSTOMERS_PER_PAGE", per_page)
        with count_queries() as statements:
            response = client.get("/customers/")
        assert response.get_data(as_text=True).count('class="line-mark"') == (2 if per_page == 5 else 15)
        counts[per_page] = len(statements)
    assert counts[5] == counts[30]
    # the signed-in staff member (with shop), the count, the page, the page's tags, the shop's tags
    # (the filter), the yellow bar's unread summary
    assert counts[5] <= 6


@pytest.mark.parametrize("query", ["4910", "０７０４９１", "49106", "-4910-", "704910"])
def test_a_partial_phone_matches_anywhere_in_the_number(client, signed_in, query):
    make_customer(signed_in, family_name="中村", given_name="愛", phone="070-4910-6498")
    make_customer(signed_in, family_name="佐藤", given_name="花子", phone="080-9999-0000")
    html = client.htmx_get("/customers/", "customer-results", query_string={"q": query}).get_data(as_text=True)
    assert "中村 愛" in html and "佐藤 花子" not in html


def test_a_phone_infix_needs_four_digits(client, signed_in):
    make_customer(signed_in, family_name="中村", given_name="愛", phone="070-4910-6498")
    assert "中村 愛" not in client.htmx_get("/customers/", "customer-results",
                                          query_string={"q": "491"}).get_data(as_text=True)
