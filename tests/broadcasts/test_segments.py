"""Segments: each condition, AND/OR groups, the count in one query, bad conditions refused (SQLite and PostgreSQL)."""
from datetime import date, datetime, timedelta, timezone

import pytest
import time_machine

from crm.bookings.models import BookingStatus
from crm.broadcasts import segments
from crm.broadcasts.segments import SegmentError
from tests import factories
from tests.broadcasts.helpers import booking, service, tag, where

NOW = datetime(2026, 6, 15, 3, 0, tzinfo=timezone.utc)  # 12:00 in Tokyo


@pytest.fixture
def salon(db):
    with time_machine.travel(NOW, tick=False):
        shop, owner = factories.make_shop()
        svc, color = service(shop, "カット"), service(shop, "カラー")
        people = {name: factories.make_customer(shop, family_name=name) for name in
                  ("常連", "ご無沙汰", "新規", "予約あり", "誕生日", "来店なし")}
        booking(shop, people["常連"], svc, NOW - timedelta(days=10))
        booking(shop, people["ご無沙汰"], color, NOW - timedelta(days=90))
        booking(shop, people["ご無沙汰"], svc, NOW - timedelta(days=5), status=BookingStatus.CANCELLED)
        booking(shop, people["予約あり"], svc, NOW + timedelta(days=3))
        booking(shop, people["予約あり"], svc, NOW - timedelta(days=200))
        people["誕生日"].birthday = date(1990, 6, 2)
        vip = tag(shop, people["常連"], "VIP")
        tag(shop, people["予約あり"], "VIP")
        factories.make_friend(shop, people["常連"])
        factories.make_friend(shop, people["ご無沙汰"], followed=False)
        factories.make_friend(shop, people["予約あり"])
        people["予約あり"].broadcast_opt_out = True
        db.session.flush()
    return shop, people, {"cut": svc, "color": color, "vip": vip}


def names(shop, people, definition):
    ids = set(db_ids(shop, definition))
    return {name for name, c in people.items() if c.id in ids}


def db_ids(shop, definition):
    from crm.extensions import db

    clean = segments.clean(definition, shop.id)
    return db.session.scalars(segments.customers_select(shop.id, clean, shop.timezone, NOW)).all()


def test_each_condition(salon):
    shop, people, ids = salon
    assert names(shop, people, where({"kind": "tag", "tag_id": ids["vip"].id})) == {"常連", "予約あり"}
    assert "常連" not in names(shop, people, where({"kind": "no_tag", "tag_id": ids["vip"].id}))
    # The cancelled booking 5 days ago is no visit: ご無沙汰's last visit is 90 days ago.
    assert names(shop, people, where({"kind": "visit_older", "days": 60})) == {"ご無沙汰", "予約あり"}
    assert names(shop, people, where({"kind": "visit_newer", "days": 30})) == {"常連"}
    assert names(shop, people, where({"kind": "upcoming"})) == {"予約あり"}
    assert "予約あり" not in names(shop, people, where({"kind": "no_upcoming"}))
    assert names(shop, people, where({"kind": "service", "service_id": ids["color"].id})) == {"ご無沙汰"}
    assert names(shop, people, where({"kind": "birthday_month", "month": 6})) == {"誕生日"}
    assert names(shop, people, where({"kind": "line_linked"})) == {"常連", "ご無沙汰", "予約あり"}
    assert names(shop, people, where({"kind": "not_blocked"})) == {"常連", "予約あり"}
    assert len(names(shop, people, where({"kind": "registered", "since": "2026-06-15", "until": "2026-06-15"}))) == 6
    assert names(shop, people, where({"kind": "registered", "until": "2026-06-14"})) == set()


def test_and_or_groups(salon):
    shop, people, ids = salon
    either = {"op": "or", "groups": [
        {"op": "and", "conditions": [{"kind": "tag", "tag_id": ids["vip"].id}, {"kind": "upcoming"}]},
        {"op": "or", "conditions": [{"kind": "birthday_month", "month": 6}, {"kind": "visit_older", "days": 60}]},
    ]}
    assert names(shop, people, either) == {"予約あり", "誕生日", "ご無沙汰"}
    both = {**either, "op": "and"}
    assert names(shop, people, both) == {"予約あり"}


def test_count_is_one_query_and_says_who_is_reachable(salon, count_queries):
    shop, people, ids = salon
    definition = segments.clean(where({"kind": "line_linked"}), shop.id)
    with count_queries() as queries:
        counted = segments.count(shop.id, definition, shop.timezone, NOW)
    assert len(queries) == 1
    # 常連 reachable; ご無沙汰 blocked; 予約あり opted out (配信停止).
    assert (counted.matched, counted.reachable, counted.blocked, counted.opted_out) == (3, 1, 1, 1)


def test_bad_conditions_are_refused_beside_their_field(salon):
    shop, people, ids = salon
    other_shop, _owner = factories.make_shop()
    with pytest.raises(SegmentError) as error:
        segments.clean(where({"kind": "visit_older", "days": "abc"}), shop.id)
    assert error.value.field == "g0-c0-days"
    with pytest.raises(SegmentError):
        segments.clean(where({"kind": "tag", "tag_id": ids["vip"].id}), other_shop.id)  # another shop's tag
    with pytest.raises(SegmentError) as error:
        segments.clean(where({"kind": "registered", "since": "2026-06-10", "until": "2026-06-01"}), shop.id)
    assert error.value.field == "g0-c0-until"
    with pytest.raises(SegmentError):
        segments.clean(where({"kind": "nonsense"}), shop.id)


def test_describe(salon):
    shop, people, ids = salon
    text = segments.describe(where({"kind": "tag", "tag_id": ids["vip"].id}, {"kind": "birthday_month", "month": 6}),
                             shop.id)
    assert "VIP" in text and "6月" in text
