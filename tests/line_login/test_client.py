"""ID token verification and the session round trip of LINE Login, without a network."""
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from crm.line_login import client as line_login
from crm.line_login import flow

CHANNEL_ID = "1600000001"
SECRET = "0123456789abcdef0123456789abcdef"
NONCE = "n" * 43


def token(secret=SECRET, **claims):
    now = int(time.time())
    body = {"iss": "https://access.line.me", "sub": "U" + "1" * 32, "aud": CHANNEL_ID, "exp": now + 600,
            "iat": now, "nonce": NONCE, "name": "さくら"}
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, algorithm="HS256")


def test_a_good_id_token_gives_its_claims():
    claims = line_login.verify_id_token(token(), CHANNEL_ID, SECRET, NONCE)
    assert claims["sub"] == "U" + "1" * 32 and claims["name"] == "さくら"


@pytest.mark.parametrize("bad, reason", [
    (dict(secret="another-secret-another-secret-0123"), "signature"),
    (dict(exp=int(time.time()) - 120, iat=int(time.time()) - 3600), "expired"),
    (dict(aud="1699999999"), "audience"),
    (dict(iss="https://access.line.me.evil.example"), "issuer"),
    (dict(nonce="m" * 43), "nonce"),
    (dict(nonce=None), "nonce"),
    (dict(sub=None), "sub"),
    (dict(iat=None), "iat"),
], ids=["secret", "expired", "aud", "iss", "nonce", "no-nonce", "no-sub", "no-iat"])
def test_a_bad_id_token_is_refused(bad, reason):
    with pytest.raises(line_login.LoginFailed) as refused:
        line_login.verify_id_token(token(**bad), CHANNEL_ID, SECRET, NONCE)
    assert reason in refused.value.reason


def test_algorithm_none_and_garbage_are_refused():
    header_payload = token().rsplit(".", 1)[0]
    for forged in (header_payload + ".", "not-a-jwt", ""):
        with pytest.raises(line_login.LoginFailed):
            line_login.verify_id_token(forged, CHANNEL_ID, SECRET, NONCE)
    with pytest.raises(line_login.LoginFailed):
        line_login.verify_id_token(token(), CHANNEL_ID, SECRET, "")  # nothing to compare with


def test_the_authorize_url(app):
    with app.test_request_context():
        url = line_login.authorize_url(CHANNEL_ID, "http://127.0.0.1/cb", "s" * 43, NONCE)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://access.line.me/oauth2/v2.1/authorize"
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "response_type": "code", "client_id": CHANNEL_ID, "redirect_uri": "http://127.0.0.1/cb", "state": "s" * 43,
        "scope": "openid profile", "nonce": NONCE, "bot_prompt": "normal"}


def test_the_state_is_single_use_and_bound_to_its_purpose(app, monkeypatch):
    calls = []
    monkeypatch.setattr(flow, "exchange_code", lambda *args: calls.append(args) or {"id_token": "t"})
    monkeypatch.setattr(flow, "verify_id_token", lambda *args: {"sub": "U1", "name": "さくら"})
    monkeypatch.setattr(flow, "friendship_flag", lambda access_token: None)
    with app.test_request_context():
        url = flow.begin(CHANNEL_ID, "http://127.0.0.1/cb", "booking:1", carry={"service": 3})
        state = parse_qs(urlsplit(url).query)["state"][0]
        assert flow.pending_carry("booking:1") == {"service": 3}
        assert flow.pending_carry("booking:2") is None
        with pytest.raises(line_login.LoginFailed):
            flow.finish({"state": state, "code": "c"}, CHANNEL_ID, SECRET, "booking:2")
        assert calls == []  # another purpose: refused before any call, and the state is spent
        with pytest.raises(line_login.LoginFailed):
            flow.finish({"state": state, "code": "c"}, CHANNEL_ID, SECRET, "booking:1")

        url = flow.begin(CHANNEL_ID, "http://127.0.0.1/cb", "booking:1", carry={"service": 3})
        state = parse_qs(urlsplit(url).query)["state"][0]
        identity, carry = flow.finish({"state": state, "code": "c"}, CHANNEL_ID, SECRET, "booking:1")
        assert (identity.user_id, identity.display_name, carry) == ("U1", "さくら", {"service": 3})
        assert calls == [(CHANNEL_ID, SECRET, "c", "http://127.0.0.1/cb")]
        with pytest.raises(line_login.LoginFailed):  # the same state again
            flow.finish({"state": state, "code": "c"}, CHANNEL_ID, SECRET, "booking:1")


def test_a_sign_in_left_too_long_is_refused(app, monkeypatch):
    with app.test_request_context():
        url = flow.begin(CHANNEL_ID, "http://127.0.0.1/cb", "booking:1")
        state = parse_qs(urlsplit(url).query)["state"][0]
        later = time.time() + flow.MAX_AGE_SECONDS + 1
        monkeypatch.setattr(flow.time, "time", lambda: later)
        with pytest.raises(line_login.LoginFailed, match="too long"):
            flow.finish({"state": state, "code": "c"}, CHANNEL_ID, SECRET, "booking:1")
