"""search_customers picks a page either from the whole match set or by walking the sort
index (MATCH_SET_LIMIT); both must give the same customers in the same order."""
from datetime import datetime, timedelta, timezone

import pytest

from crm.customers import services
from tests.factories import make_customer, make_friend

NAMES = [
    ("渡辺", "美咲", "ワタナベ", "ミサキ"), ("佐藤", "太郎", "さとう", "たろう"), ("佐々木", "葵", "ｻｻｷ", "ｱｵｲ"),
    ("山田", "大和", "ヤマダ", "ヤマト"), ("阿部", "さくら", "", ""), ("佐藤", "美咲", "サトウ", "ミサキ"),
]


@pytest.fixture
def ledger(db, shop):
    shop, _ = shop
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    customers = []
    for i in range(36):
        family, given, family_kana, given_kana = NAMES[i % len(NAMES)]
        customer = make_customer(
            shop, family_name=family, given_name=given, family_name_kana=family_kana,
            given_name_kana=given_kana, phone=f"0{7 + i % 3}0-{1000 + i * 7:04d}-{5678 + i:04d}",
            created_at=start + timedelta(days=(i * 7) % 36),  # ties broken by id
            updated_at=start + timedelta(days=(i * 5) % 11),
        )
        if i % 3 == 0:
            make_friend(shop, customer=customer, display_name=f"友{i}")
        customers.append(customer)
    return shop, customers


def _pages(shop, query, sort, per_page=4):
    ids, friends, page, total = [], [], 1, None
    while True:
        result = services.search_customers(shop.id, query, sort=sort, page=page, per_page=per_page)
        total = result.total
        ids += [customer.id for customer in result.items]
        friends += [customer.line_friend.display_name if customer.line_friend else None for customer in result.items]
        if not result.has_next:
            return ids, friends, total
        page += 1


def _expected(customers, sort):
    if sort == "kana":
        key = lambda c: (c.kana_norm is None, c.kana_norm or "", c.id)  # noqa: E731
        return [c.id for c in sorted(customers, key=key)]
    field = "created_at" if sort == "newest" else "updated_at"
    return [c.id for c in sorted(customers, key=lambda c: (getattr(c, field), c.id), reverse=True)]


@pytest.mark.parametrize("query", ["", "佐", "さとう", "ﾔﾏ", "みさき", "渡辺 美", "090", "5678", "+81 80", "該当なし"])
@pytest.mark.parametrize("sort", ["kana", "newest", "updated"])
def test_match_set_and_index_walk_agree(ledger, monkeypatch, query, sort):
    shop, customers = ledger
    monkeypatch.setattr(services, "MATCH_SET_LIMIT", 10**9)
    from_match_set = _pages(shop, query, sort)
    monkeypatch.setattr(services, "MATCH_SET_LIMIT", 0)
    from_walk = _pages(shop, query, sort)
    assert from_match_set == from_walk
    ids, _, total = from_walk
    assert len(ids) == len(set(ids)) == total
    by_id = {c.id: c for c in customers}
    assert ids == _expected([by_id[i] for i in ids], sort)
    if not query:
        assert total == len(customers)
    elif query != "該当なし":
        assert 0 < total < len(customers)
