"""Tags: shop-wide, on customers, in the ledger list and filter, edited in place, managed by the owner."""
import re

import pytest
import sqlalchemy as sa

from crm.customers import tags
from crm.customers.models import CustomerTag, Tag
from crm.extensions import db as _db
from crm.staff.models import Role
from tests.factories import make_customer, make_shop, make_staff


@pytest.fixture
def signed_in(client, auth, shop):
    auth.login(shop[1])
    return shop[0]


def _tag_ids(customer):
    return set(_db.session.scalars(sa.select(CustomerTag.tag_id).where(CustomerTag.customer_id == customer.id)))


def test_tags_for_customers_is_one_query_and_stays_in_the_shop(db, shop, count_queries):
    s = shop[0]
    other, _owner = make_shop()
    a, b, c = make_customer(s, family_name="青木"), make_customer(s, family_name="馬場"), make_customer(s)
    vip, kids = tags.create_tag(s.id, "VIP", "red"), tags.create_tag(s.id, "キッズ", "green")
    tags.add_tags(a, [vip, kids])
    tags.add_tags(b, [vip])
    with count_queries() as statements:
        found = tags.tags_for_customers(s.id, [a.id, b.id, c.id])
    assert len(statements) == 1
    assert [t.name for t in found[a.id]] == ["VIP", "キッズ"]  # name order
    assert [t.name for t in found[b.id]] == ["VIP"]
    assert c.id not in found
    assert tags.tags_for_customers(other.id, [a.id, b.id]) == {}
    assert tags.tags_for_customers(s.id, []) == {}


def test_a_tag_of_another_shop_cannot_be_put_on_a_customer(db, shop):
    other, _owner = make_shop()
    foreign = tags.create_tag(other.id, "他店")
    with pytest.raises(ValueError):
        tags.add_tags(make_customer(shop[0]), [foreign])


def test_split_names_accepts_commas_and_touten():
    assert tags.split_names("VIP、カラー,  ｶｯﾄ ，VIP") == ["VIP", "カラー", "カット"]
    assert tags.split_names("") == []


def test_add_existing_tag_in_place_with_htmx(client, signed_in):
    customer = make_customer(signed_in)
    vip = tags.create_tag(signed_in.id, "VIP", "red")
    page = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'id="customer-tags"' in page and f'<option value="{vip.id}">VIP</option>' in page
    response = client.post(f"/customers/{customer.id}/tags", data={"tag_id": vip.id, "csrf_token": client.csrf_token()},
                           headers={"HX-Request": "true", "HX-Target": "customer-tags"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="customer-tags"')  # the fragment alone
    assert '<span class="tag-chip tag-red">VIP</span>' in html
    assert _tag_ids(customer) == {vip.id}
    # twice is still once
    client.post_form(f"/customers/{customer.id}/tags", {"tag_id": vip.id})
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(CustomerTag)) == 1


def test_create_a_tag_inline_and_remove_it(client, signed_in):
    customer = make_customer(signed_in)
    response = client.post_form(f"/customers/{customer.id}/tags/new", {"name": " 要フォロー ", "colour": "orange"},
                                headers={"HX-Request": "true"})
    assert response.status_code == 200
    tag = _db.session.scalars(sa.select(Tag).where(Tag.shop_id == signed_in.id)).one()
    assert (tag.name, tag.colour) == ("要フォロー", "orange")
    assert _tag_ids(customer) == {tag.id}
    response = client.post_form(f"/customers/{customer.id}/tags/{tag.id}/remove", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "タグはありません" in response.get_data(as_text=True)
    assert _tag_ids(customer) == set()
    assert _db.session.get(Tag, tag.id) is not None  # the tag stays in the shop


def test_inline_tag_errors_show_beside_the_field_and_keep_the_input(client, signed_in):
    customer = make_customer(signed_in)
    tags.create_tag(signed_in.id, "VIP")
    response = client.post_form(f"/customers/{customer.id}/tags/new", {"name": "VIP", "colour": "blue"},
                                headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "同じ名前のタグが既にあります" in html and 'value="VIP"' in html
    response = client.post_form(f"/customers/{customer.id}/tags/new", {"name": "あ" * 31}, headers={"HX-Request": "true"})
    assert response.status_code == 422 and "30文字以内" in response.get_data(as_text=True)
    # without JavaScript: back to the record with the message
    response = client.post_form(f"/customers/{customer.id}/tags/new", {"name": ""})
    assert response.status_code == 302


def test_staff_can_tag_customers(client, auth, shop):
    s = shop[0]
    staff = make_staff(s, role=Role.STAFF)
    auth.login(staff)
    customer = make_customer(s)
    vip = tags.create_tag(s.id, "VIP")
    assert client.post_form(f"/customers/{customer.id}/tags", {"tag_id": vip.id}).status_code == 302
    assert _tag_ids(customer) == {vip.id}
    # but the tags page is the owner's
    assert client.get("/customers/tags").status_code == 302
    assert client.post_form(f"/customers/tags/{vip.id}/delete").status_code == 302
    assert _db.session.get(Tag, vip.id) is not None


def test_ledger_shows_tags_and_filters_by_tag_with_the_search(client, signed_in):
    vip, kids = tags.create_tag(signed_in.id, "VIP", "red"), tags.create_tag(signed_in.id, "キッズ", "green")
    yamada = make_customer(signed_in, family_name="山田", family_name_kana="ヤマダ")
    yamaguchi = make_customer(signed_in, family_name="山口", family_name_kana="ヤマグチ")
    suzuki = make_customer(signed_in, family_name="鈴木", family_name_kana="スズキ")
    tags.add_tags(yamada, [vip])
    tags.add_tags(suzuki, [vip, kids])
    html = client.get("/customers/").get_data(as_text=True)
    assert html.count('<span class="tag-chip tag-red">VIP</span>') == 2
    assert f'<option value="{vip.id}"' in html  # the filter
    html = client.get(f"/customers/?tag={vip.id}").get_data(as_text=True)
    assert "山田" in html and "鈴木" in html and "山口" not in html
    html = client.htmx_get(f"/customers/?tag={vip.id}&q=ヤマ", "customer-results").get_data(as_text=True)
    assert "山田" in html and "鈴木" not in html and "山口" not in html
    assert "タグ「VIP」" in html
    assert yamaguchi  # listed without the filter
    assert "山口" in client.get("/customers/?tag=").get_data(as_text=True)


def test_filter_by_another_shops_tag_is_404(client, signed_in):
    other, _owner = make_shop()
    foreign = tags.create_tag(other.id, "他店")
    assert client.get(f"/customers/?tag={foreign.id}").status_code == 404
    assert client.get("/customers/?tag=abc").status_code == 404


def test_removing_or_adding_another_shops_tag_on_my_customer_is_404(client, signed_in):
    other, _owner = make_shop()
    foreign = tags.create_tag(other.id, "他店")
    mine = make_customer(signed_in)
    assert client.post_form(f"/customers/{mine.id}/tags", {"tag_id": foreign.id}).status_code == 404
    assert client.post_form(f"/customers/{mine.id}/tags/{foreign.id}/remove").status_code == 404
    assert _tag_ids(mine) == set()


def test_owner_renames_recolours_and_deletes_tags(client, signed_in):
    customer = make_customer(signed_in)
    vip = tags.create_tag(signed_in.id, "VIP", "red")
    tags.create_tag(signed_in.id, "常連", "blue")
    tags.add_tags(customer, [vip])
    page = client.get("/customers/tags").get_data(as_text=True)
    assert "1人" in page and 'class="tag-chip tag-red"' in page
    response = client.post_form(f"/customers/tags/{vip.id}", {"name": "VIP会員", "colour": "purple"})
    assert response.status_code == 302
    _db.session.refresh(vip)
    assert (vip.name, vip.colour) == ("VIP会員", "purple")
    response = client.post_form(f"/customers/tags/{vip.id}", {"name": "常連", "colour": "purple"})
    assert response.status_code == 422 and "同じ名前のタグが既にあります" in response.get_data(as_text=True)
    response = client.post_form(f"/customers/tags/{vip.id}", {"name": "x", "colour": "chartreuse"})
    assert response.status_code == 422  # not in the palette
    assert client.post_form("/customers/tags", {"name": "新規", "colour": "green"}).status_code == 302
    assert tags.find_by_name(signed_in.id, "新規").colour == "green"
    assert client.post_form(f"/customers/tags/{vip.id}/delete").status_code == 302
    assert _db.session.scalars(sa.select(Tag.id).where(Tag.id == vip.id)).first() is None
    assert _tag_ids(customer) == set()


def test_every_palette_colour_has_its_css_class(app):
    from crm.config import PACKAGE_DIR

    css = (PACKAGE_DIR / "static" / "css" / "app.css").read_text()
    for key in tags.PALETTE:
        assert re.search(rf"\.tag-{key} \{{ background: #[0-9a-f]{{6}}; color: #[0-9a-f]{{6}}; \}}", css), key


def test_english_labels(client, signed_in, english):
    customer = make_customer(signed_in)
    client.post_form("/language", {"lang": "en"})
    html = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "Create and add" in html


def test_a_merge_keeps_the_tags_and_opt_out_of_both(db, shop):
    from crm.customers.services import delete_customer, set_opt_out
    from crm.linking.merging import merge_customers

    s = shop[0]
    keep, remove = make_customer(s, family_name="残す"), make_customer(s, family_name="消す")
    vip, kids = tags.create_tag(s.id, "VIP"), tags.create_tag(s.id, "キッズ")
    tags.add_tags(keep, [vip])
    tags.add_tags(remove, [vip, kids])
    set_opt_out(remove, True)
    merge_customers(keep, remove)
    assert {t.name for t in tags.tags_for_customers(s.id, [keep.id])[keep.id]} == {"VIP", "キッズ"}
    assert keep.broadcast_opt_out and keep.broadcast_opt_out_at == remove.broadcast_opt_out_at
    # deleting a customer takes its tags off, the tags stay
    delete_customer(keep)
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(CustomerTag)) == 0
    assert len(tags.shop_tags(s.id)) == 2
