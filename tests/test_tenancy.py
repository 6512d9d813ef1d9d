"""Every route that takes a shop-owned id answers 404 for another shop's rows."""
from datetime import date

import pytest
import sqlalchemy as sa

from crm.autoreply import services as autoreply_services
from crm.bookings.models import Booking, BookingStatus, Service
from crm.broadcasts.models import Broadcast, BroadcastStatus
from crm.conversations.models import Direction, LineFriend, LineMessage
from crm.customers import tags
from crm.customers.models import Customer, CustomerImport, Tag
from crm.extensions import db as _db
from crm.line_tab.models import DraftStatus, LineDraft
from crm.line_tab.saved_replies import SavedReply
from crm.linking.models import LinkRequest, RequestReason, RequestStatus
from crm.staff.models import Staff
from tests.bookings.helpers import book, bookable_shop
from tests.factories import make_customer, make_friend, make_shop, make_staff

# Values for URL arguments that are not ids.
OTHER_ARGS = {"tab": "line", "kind": "csv"}


def _id_routes(app):
    for rule in app.url_map.iter_rules():
        ids = [arg for arg in rule.arguments if arg.endswith("_id")]
        if ids:
            yield rule, ids


def test_every_id_route_is_known_to_this_test(app):
    # A new kind of id must be added to the fixture below, or the route is untested.
    known = {"customer_id", "staff_id", "friend_id", "message_id", "booking_id", "service_id",
             "request_id", "draft_id", "tag_id", "import_id", "broadcast_id", "reply_id", "rule_id", "closure_id"}
    unknown = {arg for _, ids in _id_routes(app) for arg in ids} - known
    assert not unknown, f"add these ids to test_tenancy: {unknown}"


@pytest.mark.parametrize("as_owner", [True, False], ids=["owner", "staff"])
def test_another_shops_ids_answer_404(app, client, auth, db, as_owner):
    shop, owner = make_shop()
    other_shop, other_owner = make_shop()
    victim = make_customer(other_shop, family_name="他店")
    make_friend(other_shop, customer=victim)
    other_staff = make_staff(other_shop)
    stranger = make_friend(other_shop, display_name="他店の友だち")
    message = LineMessage(shop_id=other_shop.id, friend_id=stranger.id, direction=Direction.INCOMING,
                          message_type="image", payload={}, media_status="stored", media_path="x.jpg",
                          media_content_type="image/jpeg")
    _db.session.add(message)
    _db.session.flush()
    service = bookable_shop(other_shop)
    booking = book(other_shop, service).booking
    link_request = LinkRequest(shop_id=other_shop.id, friend_id=stranger.id, family_name="他店", phone="090-1234-5678",
                               phone_e164="+819012345678", source="richmenu", reason=RequestReason.NAME_MISMATCH,
                               candidate_ids=[victim.id])
    _db.session.add(link_request)
    draft = LineDraft(shop_id=other_shop.id, friend_id=stranger.id, author_id=other_staff.id, text="他店の下書き",
                      status=DraftStatus.PENDING)
    _db.session.add(draft)
    tag = tags.create_tag(other_shop.id, "他店のタグ", "red")
    tags.add_tags(victim, [tag])
    upload = CustomerImport(shop_id=other_shop.id, filename="x.csv", encoding="utf-8", row_count=1,
                            data="氏名,電話\r\n他店,090-1234-5678\r\n".encode())
    _db.session.add(upload)
    broadcast = Broadcast(shop_id=other_shop.id, title="他店の配信", segment_definition={}, text="他店",
                          status=BroadcastStatus.PENDING, author_id=other_staff.id)
    _db.session.add(broadcast)
    keyword_rule = autoreply_services.save_rule(None, other_shop.id, name="他店", keyword="他店", match_type="exact",
                                                priority=0, enabled=True, reply_kind="text", reply_text="他店",
                                                image_url="")
    closure = autoreply_services.add_closure(other_shop.id, date(2026, 12, 31), None, "他店")
    saved_reply = SavedReply(shop_id=other_shop.id, title="他店の定型文", body="他店")
    _db.session.add(saved_reply)
    _db.session.flush()
    ids = {"broadcast_id": broadcast.id, "customer_id": victim.id, "staff_id": other_staff.id, "friend_id": stranger.id, "message_id": message.id,
           "booking_id": booking.id, "service_id": service.id, "request_id": link_request.id,
           "draft_id": draft.id, "tag_id": tag.id, "import_id": upload.id,
           "reply_id": saved_reply.id, "rule_id": keyword_rule.id, "closure_id": closure.id}
    me = owner if as_owner else make_staff(shop)
    auth.login(me)

    checked = 0
    for rule, args in _id_routes(app):
        values = {arg: ids[arg] for arg in args}
        values.update({k: v for k, v in OTHER_ARGS.items() if k in rule.arguments})
        with app.test_request_context():
            url = app.url_map.bind("localhost").build(rule.endpoint, values)
        owner_only = ("staff.", "bookings.service_", "linking.", "customers.tag_settings", "customers.import_",
                      "broadcasts.approve", "broadcasts.send_back",
                      "line_tab.update_saved_reply", "line_tab.delete_saved_reply", "autoreply.")
        if rule.endpoint.startswith(owner_only) and not as_owner:
            continue  # the role check answers first; test_staff_admin covers it
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method == "GET":
                response = client.get(url)
            else:
                response = client.open(url, method=method, data={"csrf_token": client.csrf_token(), "active": "0",
                                                                 "name": "x", "role": "staff", "line_send_mode": "direct",
                                                                 "password": "long-enough-pw", "family_name": "x",
                                                                 "text": "こんにちは"})
            assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
            checked += 1
    assert checked >= (10 if as_owner else 7)
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(LineMessage)) == 1

    _db.session.expire_all()
    assert _db.session.get(Customer, victim.id).family_name == "他店"
    assert _db.session.get(Staff, other_staff.id).active
    assert _db.session.get(Booking, booking.id).status == BookingStatus.BOOKED
    assert _db.session.get(Service, service.id).name == "カット"
    assert _db.session.get(LinkRequest, link_request.id).status == RequestStatus.PENDING
    assert _db.session.get(LineDraft, draft.id).text == "他店の下書き"
    assert (_db.session.get(Tag, tag.id).name, _db.session.get(Tag, tag.id).colour) == ("他店のタグ", "red")
    assert [t.id for t in tags.tags_for_customers(other_shop.id, [victim.id])[victim.id]] == [tag.id]
    assert _db.session.get(CustomerImport, upload.id) is not None
    assert _db.session.get(Broadcast, broadcast.id).status == BroadcastStatus.PENDING
    assert _db.session.get(SavedReply, saved_reply.id).title == "他店の定型文"
    assert _db.session.get(LineFriend, stranger.id).assignee_id is None and not _db.session.get(LineFriend, stranger.id).spam
    assert not _db.session.get(Customer, victim.id).broadcast_opt_out
    # the victim and the customer of the booking
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Customer).where(Customer.shop_id == other_shop.id)) == 2
