"""「LINE連携する」 on the booking page: LINE Login against the sandbox, and every way it must be refused."""
import time

import jwt
import pytest
import requests
import sqlalchemy as sa

from crm.bookings.models import Booking, BookingSource
from crm.conversations.models import LineFriend, LineMessage, SendStatus
from crm.customers.models import Customer
from crm.linking.models import LinkRequest
from tests.bookings.helpers import (
    VISITOR,
    csrf_from,
    free_starts,
    query_of,
    start_param,
)
from tests.factories import make_customer, make_friend


def _html(response):
    return response.get_data(as_text=True)


def _count(db, model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def start_login(client, ls, start):
    """Tap 「LINE連携する」 on the form; returns the authorize request's parameters."""
    page = client.get(f"/book/{ls.shop.booking_key}/form",
                      query_string={"service": ls.service.id, "start": start_param(start)})
    assert "LINE連携する" in _html(page)
    response = client.post(f"/book/{ls.shop.booking_key}/line", data={
        "csrf_token": csrf_from(_html(page)), "service": ls.service.id, "start": start_param(start)})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{ls.sandbox.url}/oauth2/v2.1/authorize?")
    return query_of(location)


def choose_user(ls, params, user_id, **overrides):
    """The visitor picks a LINE user on the sandbox's authorize page; returns the redirect's query."""
    response = requests.post(f"{ls.sandbox.url}/oauth2/v2.1/authorize", allow_redirects=False, timeout=10,
                             data={**params, **overrides, "user_id": user_id, "add_friend": "1"})
    assert response.status_code == 302, response.text
    assert response.headers["Location"].startswith(params["redirect_uri"])
    return query_of(response.headers["Location"])


def callback(client, ls, query):
    return client.get(f"/book/{ls.shop.booking_key}/line/callback", query_string=query)


def forged_tokens(ls, **claims):
    """A token response whose ID token says what the test wants (served by a sandbox fault)."""
    now = int(time.time())
    body = {"iss": "https://access.line.me", "sub": "Uforged0000000000000000000000000", "aud": ls.login["channel_id"],
            "exp": now + 3600, "iat": now, "name": "なりすまし"}
    secret = claims.pop("secret", ls.login["channel_secret"])
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    id_token = jwt.encode(body, secret, algorithm="HS256")
    ls.sandbox.fault("/oauth2/v2.1/token", status=200, method="POST", body={
        "access_token": "forged", "expires_in": 3600, "id_token": id_token, "refresh_token": "r",
        "scope": "openid profile", "token_type": "Bearer"})


def assert_refused(db, client, ls, response):
    assert response.status_code == 400
    assert "LINEでのログインを完了できませんでした" in _html(response)
    assert _count(db, LineFriend) == 0
    assert _count(db, LinkRequest) == 0
    assert _count(db, Customer) == 0
    # Nothing is remembered either: the form offers LINE Login again.
    form = client.get(f"/book/{ls.shop.booking_key}/form",
                      query_string={"service": ls.service.id, "start": start_param(free_starts(ls.shop, ls.service)[0])})
    assert "としてLINEでログイン中" not in _html(form)


def test_the_authorize_request(client, login_shop):
    start = free_starts(login_shop.shop, login_shop.service)[0]
    params = start_login(client, login_shop, start)
    assert params["response_type"] == "code"
    assert params["client_id"] == login_shop.login["channel_id"]
    assert params["scope"] == "openid profile"
    assert params["bot_prompt"] == "normal"
    assert params["redirect_uri"] == f"http://127.0.0.1/book/{login_shop.shop.booking_key}/line/callback"
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    again = start_login(client, login_shop, start)
    assert again["state"] != params["state"] and again["nonce"] != params["nonce"]


def test_sign_in_then_book_links_the_customer_and_confirms_on_line(client, db, login_shop):
    ls = login_shop
    user = ls.sandbox.add_user(display_name="さくら🌸", picture_url="http://127.0.0.1/sakura.png")
    start = free_starts(ls.shop, ls.service)[0]
    params = start_login(client, ls, start)
    response = callback(client, ls, choose_user(ls, params, user["user_id"]))
    assert response.status_code == 302
    assert response.headers["Location"] == (
        f"/book/{ls.shop.booking_key}/form?service={ls.service.id}&start={start_param(start)}")
    friend = db.session.scalars(sa.select(LineFriend)).one()
    assert (friend.shop_id, friend.line_user_id, friend.display_name) == (ls.shop.id, user["user_id"], "さくら🌸")
    assert friend.picture_url == "http://127.0.0.1/sakura.png"
    assert friend.followed and friend.customer_id is None
    html = _html(client.get(response.headers["Location"]))
    assert "さくら🌸 としてLINEでログイン中" in html and "LINE連携する" not in html

    page = client.get(response.headers["Location"])
    response = client.post(f"/book/{ls.shop.booking_key}/form", data={
        "csrf_token": csrf_from(_html(page)), "service": ls.service.id, "start": start_param(start), **VISITOR})
    assert response.status_code == 303
    html = _html(client.get(response.headers["Location"]))
    assert "ご予約を承りました" in html and "ご予約の確認をLINEでお送りしました。" in html

    booking = db.session.scalars(sa.select(Booking)).one()
    db.session.refresh(friend)
    assert booking.source == BookingSource.LINE and booking.friend_id == friend.id
    assert friend.customer_id == booking.customer_id
    customer = db.session.get(Customer, booking.customer_id)
    assert (customer.family_name, customer.given_name, customer.family_name_kana, customer.given_name_kana) == (
        "伊藤", "さくら", "いとう", "サクラ")
    (message,) = db.session.scalars(sa.select(LineMessage)).all()
    assert message.status == SendStatus.SENT and "ご予約ありがとうございます" in message.text
    (sent,) = ls.sandbox.sent(ls.bot["channel_id"])
    assert sent["to"] == user["user_id"]
    assert "カット" in sent["messages"][0]["text"] and "¥4,400" in sent["messages"][0]["text"]
    # The sign-in was for that booking: the next one asks again.
    html = _html(client.get(f"/book/{ls.shop.booking_key}/form",
                            query_string={"service": ls.service.id, "start": start_param(free_starts(ls.shop, ls.service)[0])}))
    assert "としてLINEでログイン中" not in html


def test_a_friend_already_linked_books_for_their_customer(client, db, login_shop):
    ls = login_shop
    user = ls.sandbox.add_user(display_name="はなこ")
    customer = make_customer(ls.shop, family_name="山田", given_name="花子", family_name_kana="ヤマダ",
                             given_name_kana="ハナコ", phone="090-5555-0000")
    make_friend(ls.shop, customer, display_name="はなこ", line_user_id=user["user_id"])
    start = free_starts(ls.shop, ls.service)[0]
    response = callback(client, ls, choose_user(ls, start_login(client, ls, start), user["user_id"]))
    page = client.get(response.headers["Location"])
    html = _html(page)
    assert 'value="山田"' in html and 'value="090-5555-0000"' in html  # filled in from the record
    client.post(f"/book/{ls.shop.booking_key}/form", data={
        "csrf_token": csrf_from(html), "service": ls.service.id, "start": start_param(start),
        "family_name": "山田", "given_name": "花子", "family_name_kana": "ヤマダ", "given_name_kana": "ハナコ",
        "phone": "090-5555-0000"})
    booking = db.session.scalars(sa.select(Booking)).one()
    assert booking.customer_id == customer.id
    assert _count(db, Customer) == 1 and _count(db, LineFriend) == 1
    assert len(ls.sandbox.sent(ls.bot["channel_id"])) == 1


def test_a_link_the_owner_must_check_still_books(client, db, login_shop):
    ls = login_shop
    user = ls.sandbox.add_user(display_name="けん")
    known = make_customer(ls.shop, family_name="伊藤", given_name="健", family_name_kana="イトウ",
                          given_name_kana="ケン", phone=VISITOR["phone"])
    start = free_starts(ls.shop, ls.service)[0]
    response = callback(client, ls, choose_user(ls, start_login(client, ls, start), user["user_id"]))
    page = client.get(response.headers["Location"])
    response = client.post(f"/book/{ls.shop.booking_key}/form", data={
        "csrf_token": csrf_from(_html(page)), "service": ls.service.id, "start": start_param(start), **VISITOR})
    html = _html(client.get(response.headers["Location"]))
    assert "ご予約を承りました" in html and "LINE連携はお店で確認中です。" in html
    booking = db.session.scalars(sa.select(Booking)).one()
    assert booking.customer_id != known.id  # another name: a new record, as without LINE
    request = db.session.scalars(sa.select(LinkRequest)).one()
    assert request.source == "booking" and request.candidate_ids == [known.id]
    assert db.session.scalars(sa.select(LineFriend.customer_id)).one() is None
    assert ls.sandbox.sent(ls.bot["channel_id"]) == []


def test_wrong_state_is_refused(client, db, login_shop):
    ls = login_shop
    user = ls.sandbox.add_user()
    params = start_login(client, ls, free_starts(ls.shop, ls.service)[0])
    query = choose_user(ls, params, user["user_id"])
    response = callback(client, ls, {**query, "state": "attacker-" + query["state"][9:]})
    assert_refused(db, client, ls, response)
    # The state was spent by the failed attempt: the genuine one no longer works either.
    assert callback(client, ls, query).status_code == 400
    assert _count(db, LineFriend) == 0


def test_a_callback_without_a_sign_in_in_this_browser_is_refused(client, app, db, login_shop):
    ls = login_shop
    user = ls.sandbox.add_user()
    query = choose_user(ls, start_login(client, ls, free_starts(ls.shop, ls.service)[0]), user["user_id"])
    victim = app.test_client()  # login CSRF: the attacker's callback URL opened in someone else's browser
    assert_refused(db, client, ls, victim.get(f"/book/{ls.shop.booking_key}/line/callback", query_string=query))


def test_wrong_nonce_is_refused(client, db, login_shop):
    ls = login_shop
    user = ls.sandbox.add_user()
    params = start_login(client, ls, free_starts(ls.shop, ls.service)[0])
    query = choose_user(ls, params, user["user_id"], nonce="replayed-nonce-from-another-sign-in")
    assert_refused(db, client, ls, callback(client, ls, query))


def test_missing_nonce_is_refused(client, db, login_shop):
    ls = login_shop
    user = ls.sandbox.add_user()
    params = start_login(client, ls, free_starts(ls.shop, ls.service)[0])
    query = choose_user(ls, {k: v for k, v in params.items() if k != "nonce"}, user["user_id"])
    assert_refused(db, client, ls, callback(client, ls, query))


@pytest.mark.parametrize("claims", [
    {"secret": "another-channel-secret-0123456789abcdef"},
    {"exp": int(time.time()) - 600, "iat": int(time.time()) - 4200},
    {"aud": "1699999999"},
    {"iss": "https://evil.example"},
    {"sub": None},
], ids=["signed-with-another-secret", "expired", "wrong-aud", "wrong-iss", "no-sub"])
def test_a_bad_id_token_is_refused(client, db, login_shop, claims):
    ls = login_shop
    user = ls.sandbox.add_user()
    params = start_login(client, ls, free_starts(ls.shop, ls.service)[0])
    query = choose_user(ls, params, user["user_id"])
    forged_tokens(ls, nonce=params["nonce"], **claims)
    assert_refused(db, client, ls, callback(client, ls, query))


def test_an_unsigned_id_token_is_refused(client, db, login_shop):
    ls = login_shop
    user = ls.sandbox.add_user()
    params = start_login(client, ls, free_starts(ls.shop, ls.service)[0])
    query = choose_user(ls, params, user["user_id"])
    now = int(time.time())
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    payload = jwt.utils.base64url_encode(
        ('{"iss":"https://access.line.me","sub":"Ux","aud":"%s","exp":%d,"iat":%d,"nonce":"%s"}'
         % (ls.login["channel_id"], now + 600, now, params["nonce"])).encode()).decode()
    ls.sandbox.fault("/oauth2/v2.1/token", status=200, method="POST",
                     body={"access_token": "x", "id_token": f"{header}.{payload}.", "token_type": "Bearer"})
    assert_refused(db, client, ls, callback(client, ls, query))


def test_a_forged_token_with_the_right_secret_and_nonce_is_accepted(client, db, login_shop):
    """The control case of the forged tokens above: the fault mechanism itself lets a good token through."""
    ls = login_shop
    user = ls.sandbox.add_user()
    params = start_login(client, ls, free_starts(ls.shop, ls.service)[0])
    query = choose_user(ls, params, user["user_id"])
    forged_tokens(ls, nonce=params["nonce"])
    assert callback(client, ls, query).status_code == 302
    assert db.session.scalars(sa.select(LineFriend.line_user_id)).one() == "Uforged0000000000000000000000000"


def test_a_code_the_token_endpoint_refuses(client, db, login_shop):
    ls = login_shop
    user = ls.sandbox.add_user()
    params = start_login(client, ls, free_starts(ls.shop, ls.service)[0])
    query = choose_user(ls, params, user["user_id"])
    assert_refused(db, client, ls, callback(client, ls, {**query, "code": "made-up"}))


def test_cancelling_on_line_is_not_an_error_page_without_a_way_back(client, db, login_shop):
    ls = login_shop
    params = start_login(client, ls, free_starts(ls.shop, ls.service)[0])
    response = requests.post(f"{ls.sandbox.url}/oauth2/v2.1/authorize", allow_redirects=False, timeout=10,
                             data={**params, "action": "cancel"})
    query = query_of(response.headers["Location"])
    assert query["error"] == "access_denied"
    response = callback(client, ls, query)
    assert_refused(db, client, ls, response)
    html = _html(response)
    assert "LINEでのログインがキャンセルされました。" in html
    assert f"/book/{ls.shop.booking_key}/form?service={ls.service.id}" in html


def test_a_shop_without_a_login_channel_has_no_line_sign_in(client, db, login_shop):
    ls = login_shop
    ls.channel.login_channel_id = None
    db.session.flush()
    start = free_starts(ls.shop, ls.service)[0]
    assert client.post_form(f"/book/{ls.shop.booking_key}/line",
                            {"service": ls.service.id, "start": start_param(start)}).status_code == 404
    assert client.get(f"/book/{ls.shop.booking_key}/line/callback?code=x&state=y").status_code == 404
