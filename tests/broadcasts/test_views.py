"""The broadcast pages: live count, editor, preview, saving a segment, owner send, staff approval, quota refusal,
progress, the 一斉配信 mark in the LINE tab, and the premium gate."""
import re

import sqlalchemy as sa

from crm.broadcasts.models import Broadcast, BroadcastStatus, Segment
from crm.extensions import db
from crm.shops.models import Plan
from crm.staff.models import Role
from tests.broadcasts.helpers import friends, tag
from tests.factories import make_staff

HX = {"HX-Request": "true"}


def _post(client, url, data, **kwargs):
    data = {"csrf_token": client.csrf_token(), **data}
    return client.post(url, data=data, **kwargs)


def _form(**extra):
    return {"title": "6月のご案内", "op": "and", "g0-op": "and", "text": "{お客様名}様、{店舗名}です", **extra}


def test_live_count_follows_the_conditions(client, auth, line_shop):
    people = friends(line_shop, 3)
    vip = tag(line_shop.shop, people[0][0], "VIP")
    auth.login(line_shop.owner)
    page = client.get("/broadcasts/new").get_data(as_text=True)
    assert 'hx-post="/broadcasts/count"' in page and "delay:400ms" in page
    everyone = _post(client, "/broadcasts/count", _form(), headers=HX).get_data(as_text=True)
    assert "配信対象 3人" in everyone
    only_vip = _post(client, "/broadcasts/count", _form(**{"g0-c0-kind": "tag", "g0-c0-tag_id": vip.id}),
                     headers=HX).get_data(as_text=True)
    assert "配信対象 1人" in only_vip
    bad = _post(client, "/broadcasts/count", _form(**{"g0-c0-kind": "visit_older", "g0-c0-days": "x"}),
                headers=HX).get_data(as_text=True)
    assert "日数は" in bad
    over = _post(client, "/broadcasts/count", _form(quota_remaining="1"), headers=HX).get_data(as_text=True)
    assert "2通超えて" in over


def test_editor_adds_and_removes_conditions_and_groups(client, auth, line_shop):
    auth.login(line_shop.owner)
    html = _post(client, "/broadcasts/editor", _form(edit="add_condition:0"), headers=HX).get_data(as_text=True)
    assert 'name="g0-c0-kind"' in html
    html = _post(client, "/broadcasts/editor", _form(**{"edit": "add_group", "g0-c0-kind": "upcoming"}),
                 headers=HX).get_data(as_text=True)
    assert 'name="g1-c0-kind"' in html and 'name="g0-c0-kind"' in html
    html = _post(client, "/broadcasts/editor", _form(**{"edit": "remove_condition:0:0", "g0-c0-kind": "upcoming"}),
                 headers=HX).get_data(as_text=True)
    assert 'name="g0-c0-kind"' not in html


def test_segments_are_saved_and_loaded(client, auth, line_shop):
    auth.login(line_shop.owner)
    response = _post(client, "/broadcasts/segments", _form(**{"segment_name": "誕生月", "g0-c0-kind": "birthday_month",
                                                              "g0-c0-month": "6"}), headers=HX)
    assert response.status_code == 200 and "誕生月" in response.get_data(as_text=True)
    segment = db.session.scalars(sa.select(Segment)).one()
    assert segment.definition["groups"][0]["conditions"] == [{"kind": "birthday_month", "month": 6}]
    html = client.get(f"/broadcasts/editor?segment={segment.id}", headers=HX).get_data(as_text=True)
    assert re.search(r'<option value="6"\s+selected', html)
    assert _post(client, "/broadcasts/segments", _form(segment_name=""), headers=HX).status_code == 422


def test_the_quota_arriving_recounts_so_the_over_quota_warning_shows(client, auth, line_shop):
    channel = line_shop.sandbox_channel
    line_shop.sandbox.add_channel(channel_id=channel["channel_id"], channel_secret=channel["channel_secret"],
                                  channel_access_token=channel["channel_access_token"], quota=5)
    auth.login(line_shop.owner)
    quota = client.get("/broadcasts/quota", headers=HX).get_data(as_text=True)
    # The first count is drawn before the quota is known: the quota box asks for the count again...
    assert re.search(r'<span hx-post="/broadcasts/count" hx-trigger="load"[^>]*hx-include="closest form"', quota)
    # ...and every count request shares one queue, so an older answer never overwrites a newer one.
    page = client.get("/broadcasts/new").get_data(as_text=True)
    assert page.count('hx-post="/broadcasts/count"') == page.count('hx-sync="#segment-count:replace"') == 2
    assert quota.count('hx-sync="#segment-count:replace"') == 1


def test_preview_shows_one_sample_customer(client, auth, line_shop):
    people = friends(line_shop, 2)
    auth.login(line_shop.owner)
    html = _post(client, "/broadcasts/preview", _form(coupon_on="1", coupon_title="10%オフ", coupon_until="2099-01-01",
                                                      coupon_reward="free"), headers=HX).get_data(as_text=True)
    first = people[0][0]
    assert f"{first.full_name}様、{line_shop.shop.name}です" in html and "10%オフ" in html


def test_owner_sends_and_the_page_shows_progress_and_history(client, auth, line_shop):
    people = friends(line_shop, 2)
    auth.login(line_shop.owner)
    response = _post(client, "/broadcasts/new", _form(action="submit", when="now"))
    assert response.status_code == 302
    broadcast = db.session.scalars(sa.select(Broadcast)).one()
    assert broadcast.status == BroadcastStatus.DONE
    page = client.get(f"/broadcasts/{broadcast.id}").get_data(as_text=True)
    assert "送信済み 2" in page and "<progress" in page
    listing = client.get("/broadcasts/").get_data(as_text=True)
    assert "6月のご案内" in listing and "配信完了" in listing
    tab = client.get(f"/customers/{people[0][0].id}/line", headers={"HX-Request": "true", "HX-Target": "customer-tabs"})
    assert "一斉配信" in tab.get_data(as_text=True)


def test_staff_broadcast_waits_for_the_owner(client, auth, line_shop):
    friends(line_shop, 1)
    staff = make_staff(line_shop.shop, role=Role.STAFF)
    auth.login(staff)
    _post(client, "/broadcasts/new", _form(action="submit", when="now"))
    broadcast = db.session.scalars(sa.select(Broadcast)).one()
    assert broadcast.status == BroadcastStatus.PENDING
    assert _post(client, f"/broadcasts/{broadcast.id}/approve", {}, headers=HX).status_code == 403  # owner only
    assert db.session.get(Broadcast, broadcast.id).status == BroadcastStatus.PENDING
    auth.logout()
    auth.login(line_shop.owner)
    assert "承認して配信" in client.get(f"/broadcasts/{broadcast.id}").get_data(as_text=True)
    _post(client, f"/broadcasts/{broadcast.id}/approve", {})
    db.session.expire_all()
    broadcast = db.session.get(Broadcast, broadcast.id)
    assert broadcast.status == BroadcastStatus.DONE and broadcast.approved_by_id == line_shop.owner.id


def test_an_approved_broadcasts_page_names_the_approver(client, auth, line_shop):
    friends(line_shop, 1)
    staff = make_staff(line_shop.shop, role=Role.STAFF)
    auth.login(staff)
    _post(client, "/broadcasts/new", _form(action="submit", when="now"))
    broadcast = db.session.scalars(sa.select(Broadcast)).one()
    auth.logout()
    auth.login(line_shop.owner)
    response = _post(client, f"/broadcasts/{broadcast.id}/approve", {}, follow_redirects=True)
    assert response.status_code == 200  # was a 500: Broadcast.approved_by is lazy="raise"
    assert re.search(rf"<dt>承認</dt><dd>{re.escape(line_shop.owner.name)}</dd>", response.get_data(as_text=True))


def test_quota_refusal_keeps_the_form_and_says_by_how_much(client, auth, line_shop):
    channel = line_shop.sandbox_channel
    line_shop.sandbox.add_channel(channel_id=channel["channel_id"], channel_secret=channel["channel_secret"],
                                  channel_access_token=channel["channel_access_token"], quota=1)
    friends(line_shop, 3)
    auth.login(line_shop.owner)
    quota = client.get("/broadcasts/quota", headers=HX).get_data(as_text=True)
    assert "今月の配信上限 1通" in quota
    response = _post(client, "/broadcasts/new", _form(action="submit", when="now"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "2通超える" in html and "{お客様名}様、{店舗名}です" in html
    assert db.session.scalars(sa.select(Broadcast)).all() == []


def test_an_empty_message_is_shown_beside_the_field(client, auth, line_shop):
    auth.login(line_shop.owner)
    response = _post(client, "/broadcasts/new", _form(action="save", text=""))
    assert response.status_code == 422 and "メッセージを入力" in response.get_data(as_text=True)


def test_progress_fragment_polls_while_running(client, auth, line_shop):
    auth.login(line_shop.owner)
    broadcast = Broadcast(shop_id=line_shop.shop.id, title="t", segment_definition={}, text="x",
                          status=BroadcastStatus.SENDING)
    db.session.add(broadcast)
    db.session.flush()
    html = client.get(f"/broadcasts/{broadcast.id}/progress", headers=HX).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in html


def test_basic_shop_gets_no_broadcasts(client, auth, line_shop):
    line_shop.shop.plan = Plan.BASIC
    db.session.flush()
    auth.login(line_shop.owner)
    assert client.get("/broadcasts/").status_code == 403
