"""The one matching service: a table of cases, three outcomes, one friend to one customer."""
import threading

import pytest
import sqlalchemy as sa

from crm.conversations.models import LineFriend
from crm.customers.models import Customer
from crm.customers.normalize import InvalidPhone
from crm.extensions import db as _db
from crm.linking.models import LinkRequest, RequestReason
from crm.linking.services import Outcome, Typed, match_and_link
from tests.factories import make_customer, make_friend


@pytest.fixture
def hanako(shop):
    return make_customer(shop[0], family_name="山田", given_name="花子", family_name_kana="ヤマダ",
                         given_name_kana="ハナコ", phone="090-1234-5678")


@pytest.mark.parametrize("phone", ["090-1234-5678", "09012345678", "+81 90 1234 5678", "０９０ー１２３４ー５６７８"])
@pytest.mark.parametrize(("family", "given"), [("山田", "花子"), ("山田 ", " 花子"), ("山田　", "花子"),
                                               ("やまだ", "はなこ"), ("ﾔﾏﾀﾞ", "ﾊﾅｺ"), ("ヤマダ", "ハナコ")])
def test_same_phone_and_name_in_any_form_links(shop, hanako, phone, family, given):
    friend = make_friend(shop[0])
    result = match_and_link(friend, Typed(family, given, phone), source="booking")
    assert result.outcome == Outcome.LINKED and result.customer.id == hanako.id
    assert friend.customer_id == hanako.id and friend.linked_at is not None


def test_unknown_phone_creates_a_customer_and_links(shop, hanako):
    friend = make_friend(shop[0])
    result = match_and_link(friend, Typed("佐藤", "一郎", "080-2222-3333"), source="booking")
    assert result.outcome == Outcome.CREATED
    assert result.customer.id != hanako.id
    assert result.customer.phone_e164 == "+818022223333" and result.customer.name_norm == "佐藤一郎"
    assert friend.customer_id == result.customer.id


def test_phone_matches_but_name_differs_asks_the_owner(shop, hanako):
    friend = make_friend(shop[0])
    result = match_and_link(friend, Typed("田中", "花子", "090-1234-5678"), source="booking")
    assert result.outcome == Outcome.PENDING
    assert result.request.reason == RequestReason.NAME_MISMATCH
    assert result.request.candidate_ids == [hanako.id]
    assert friend.customer_id is None
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Customer)) == 1  # no silent duplicate


def test_two_candidates_ask_the_owner(shop, hanako):
    twin = make_customer(shop[0], family_name="山田", given_name="花子", family_name_kana="ヤマダ",
                         given_name_kana="ハナコ", phone="090-1234-5678")
    friend = make_friend(shop[0])
    result = match_and_link(friend, Typed("山田", "花子", "090-1234-5678"), source="booking")
    assert result.outcome == Outcome.PENDING and result.request.reason == RequestReason.SEVERAL
    assert sorted(result.request.candidate_ids) == sorted([hanako.id, twin.id])


def test_customer_linked_to_another_friend_is_not_taken_over(shop, hanako):
    make_friend(shop[0], customer=hanako)
    friend = make_friend(shop[0])
    result = match_and_link(friend, Typed("山田", "花子", "090-1234-5678"), source="booking")
    assert result.outcome == Outcome.PENDING and result.request.reason == RequestReason.CONFLICT
    assert friend.customer_id is None


def test_an_already_linked_friend_stays_linked(shop, hanako):
    friend = make_friend(shop[0], customer=hanako)
    result = match_and_link(friend, Typed("佐藤", "一郎", "080-2222-3333"), source="booking")
    assert result.outcome == Outcome.ALREADY and result.customer.id == hanako.id


def test_another_shops_customer_never_matches(shop, hanako):
    from tests.factories import make_shop

    other_shop, _ = make_shop()
    friend = make_friend(other_shop)
    result = match_and_link(friend, Typed("山田", "花子", "090-1234-5678"), source="booking")
    assert result.outcome == Outcome.CREATED and result.customer.shop_id == other_shop.id


def test_a_bad_phone_is_refused(shop):
    with pytest.raises(InvalidPhone):
        match_and_link(make_friend(shop[0]), Typed("山田", "花子", "090-12"), source="booking")


def test_repeated_requests_update_one_pending_request(shop, hanako):
    friend = make_friend(shop[0])
    match_and_link(friend, Typed("田中", "花子", "090-1234-5678"), source="booking")
    match_and_link(friend, Typed("田中", "はなこ", "090-1234-5678"), source="booking")
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(LinkRequest)) == 1


def test_concurrent_submissions_link_one_friend_to_one_customer(app):
    """Real transactions on the real engine: two friends claim one customer, one friend submits twice."""
    from tests.factories import make_shop

    with app.app_context():
        shop, _ = make_shop()
        customer = make_customer(shop, family_name="山田", given_name="花子", phone="090-7777-8888")
        friends = [make_friend(shop) for _ in range(2)]
        _db.session.commit()
        shop_id, customer_id, friend_ids = shop.id, customer.id, [f.id for f in friends]
        _db.session.remove()
    barrier = threading.Barrier(4)
    outcomes = []

    def submit(friend_id):
        with app.app_context():
            barrier.wait(timeout=10)  # before any transaction: SQLite's write lock is taken at BEGIN
            try:
                friend = _db.session.get(LineFriend, friend_id)
                outcomes.append(match_and_link(friend, Typed("山田", "花子", "090-7777-8888"), source="booking").outcome)
                _db.session.commit()
            except Exception as exc:  # noqa: BLE001  a lost race must not corrupt anything
                _db.session.rollback()
                outcomes.append(type(exc).__name__)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=submit, args=(fid,)) for fid in friend_ids * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        with app.app_context():
            linked = _db.session.scalars(sa.select(LineFriend).where(LineFriend.shop_id == shop_id,
                                                                    LineFriend.customer_id.is_not(None))).all()
            customers = _db.session.scalars(sa.select(Customer).where(Customer.shop_id == shop_id)).all()
            assert len(linked) == 1 and linked[0].customer_id == customer_id  # one friend holds the customer
            assert len(customers) == 1  # nobody got a silent duplicate
            assert outcomes.count(Outcome.LINKED) == 1, outcomes
            assert set(outcomes) <= {Outcome.LINKED, Outcome.ALREADY, Outcome.PENDING}, outcomes
    finally:
        with app.app_context():
            from crm.shops.models import Shop

            _db.session.execute(sa.delete(Shop).where(Shop.id == shop_id))  # ON DELETE CASCADE
            _db.session.commit()
            _db.session.remove()
