"""LINE Login v2.1 in the sandbox: authorize (pick a user), token, verify, profile."""
import json
import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

REDIRECT = "http://127.0.0.1:5000/booking/callback"


@pytest.fixture
def login_channel(line_sandbox, channel):
    return line_sandbox.add_login_channel(bot_channel_id=channel["channel_id"], callback_urls=[REDIRECT])


def authorize_params(login_channel, **extra):
    return {"response_type": "code", "client_id": login_channel["channel_id"], "redirect_uri": REDIRECT,
            "state": "st-123", "scope": "openid profile", "nonce": "n-456", **extra}


def choose(line_sandbox, params, **form):
    """Submit the authorize page's form as a browser would; the redirect's query."""
    response = requests.post(f"{line_sandbox.url}/oauth2/v2.1/authorize", data={**params, **form},
                             allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(line_sandbox, login_channel, code, redirect_uri=REDIRECT):
    return requests.post(f"{line_sandbox.url}/oauth2/v2.1/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "client_id": login_channel["channel_id"], "client_secret": login_channel["channel_secret"]})


def test_full_login_flow(line_sandbox, login_channel):
    user = line_sandbox.add_user(display_name="伊藤 さくら", picture_url="http://127.0.0.1/s.png")
    page = requests.get(f"{line_sandbox.url}/oauth2/v2.1/authorize", params=authorize_params(login_channel), timeout=10)
    assert page.status_code == 200
    assert "どのLINEユーザーとしてログインしますか？" in page.text and "伊藤 さくら" in page.text
    assert 'name="add_friend"' not in page.text  # no bot_prompt, no friend offer

    query = choose(line_sandbox, authorize_params(login_channel), user_id=user["user_id"])
    assert query["state"] == "st-123" and "friendship_status_changed" not in query
    tokens = exchange(line_sandbox, login_channel, query["code"]).json()
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "openid profile"
    assert tokens["expires_in"] > 0 and tokens["refresh_token"] and tokens["access_token"]

    claims = jwt.decode(tokens["id_token"], login_channel["channel_secret"], algorithms=["HS256"],
                        audience=login_channel["channel_id"], issuer="https://access.line.me")
    assert claims["sub"] == user["user_id"] and claims["nonce"] == "n-456" and claims["amr"] == ["linesso"]
    assert claims["name"] == "伊藤 さくら" and claims["picture"] == "http://127.0.0.1/s.png"
    assert claims["exp"] > claims["iat"]

    verified = requests.post(f"{line_sandbox.url}/oauth2/v2.1/verify", timeout=10, data={
        "id_token": tokens["id_token"], "client_id": login_channel["channel_id"], "nonce": "n-456"})
    assert verified.status_code == 200 and verified.json()["sub"] == user["user_id"]
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    profile = requests.get(f"{line_sandbox.url}/v2/profile", headers=bearer, timeout=10).json()
    assert profile == {"userId": user["user_id"], "displayName": "伊藤 さくら", "pictureUrl": "http://127.0.0.1/s.png"}
    access = requests.get(f"{line_sandbox.url}/oauth2/v2.1/verify", params={"access_token": tokens["access_token"]}, timeout=10)
    assert access.json()["client_id"] == login_channel["channel_id"]


def test_codes_are_single_use_and_bound_to_the_redirect_uri(line_sandbox, login_channel):
    user = line_sandbox.add_user()
    code = choose(line_sandbox, authorize_params(login_channel), user_id=user["user_id"])["code"]
    wrong = exchange(line_sandbox, login_channel, code, redirect_uri="http://127.0.0.1:5000/elsewhere")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert exchange(line_sandbox, login_channel, code).status_code == 200
    reused = exchange(line_sandbox, login_channel, code)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    bad_secret = requests.post(f"{line_sandbox.url}/oauth2/v2.1/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": login_channel["channel_id"], "client_secret": "wrong"})
    assert bad_secret.json()["error"] == "invalid_client"


def test_verify_refuses_bad_tokens(line_sandbox, login_channel):
    user = line_sandbox.add_user()
    code = choose(line_sandbox, authorize_params(login_channel), user_id=user["user_id"])["code"]
    id_token = exchange(line_sandbox, login_channel, code).json()["id_token"]

    def verify(**data):
        return requests.post(f"{line_sandbox.url}/oauth2/v2.1/verify", data=data, timeout=10)

    wrong_nonce = verify(id_token=id_token, client_id=login_channel["channel_id"], nonce="other")
    assert wrong_nonce.status_code == 400
    assert wrong_nonce.json() == {"error": "invalid_request", "error_description": "Invalid IdToken Nonce."}
    assert verify(id_token=id_token, client_id="999").json()["error_description"] == "Invalid IdToken Audience."
    forged = jwt.encode({**jwt.decode(id_token, options={"verify_signature": False})}, "x" * 32, algorithm="HS256")
    assert verify(id_token=forged, client_id=login_channel["channel_id"]).json()["error_description"] == "Invalid IdToken."
    expired = jwt.encode({**jwt.decode(id_token, options={"verify_signature": False}), "exp": 1},
                         login_channel["channel_secret"], algorithm="HS256")
    assert verify(id_token=expired, client_id=login_channel["channel_id"]).json()["error_description"] == "IdToken expired."


def test_bot_prompt_adds_the_bot_as_a_friend(line_sandbox, login_channel, channel, webhook_receiver):
    user = line_sandbox.add_user(display_name="中村 優")
    params = authorize_params(login_channel, bot_prompt="aggressive")
    page = requests.get(f"{line_sandbox.url}/oauth2/v2.1/authorize", params=params, timeout=10)
    assert 'name="add_friend"' in page.text and "サロン・ド・テスト" in page.text

    query = choose(line_sandbox, params, user_id=user["user_id"], add_friend="1")
    assert query["friendship_status_changed"] == "true"
    (delivered,) = webhook_receiver.received
    assert json.loads(delivered["body"])["events"][0]["type"] == "follow"
    again = choose(line_sandbox, params, user_id=user["user_id"], add_friend="1")
    assert again["friendship_status_changed"] == "false"
    not_added = choose(line_sandbox, params, user_id=line_sandbox.add_user()["user_id"])
    assert not_added["friendship_status_changed"] == "false"

    tokens = exchange(line_sandbox, login_channel, again["code"]).json()
    status = requests.get(f"{line_sandbox.url}/friendship/v1/status", timeout=10,
                          headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert status.json() == {"friendFlag": True}


def test_creating_a_user_on_the_authorize_page(line_sandbox, login_channel):
    query = choose(line_sandbox, authorize_params(login_channel), action="create", display_name="新規 ユーザー")
    tokens = exchange(line_sandbox, login_channel, query["code"]).json()
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["name"] == "新規 ユーザー" and re.fullmatch(r"U[0-9a-f]{32}", claims["sub"])


def test_cancel_and_bad_requests(line_sandbox, login_channel):
    cancelled = choose(line_sandbox, authorize_params(login_channel), action="cancel")
    assert cancelled == {"error": "access_denied", "error_description": "The resource owner denied the request.",
                         "state": "st-123"}
    unknown_client = requests.get(f"{line_sandbox.url}/oauth2/v2.1/authorize", timeout=10,
                                  params=authorize_params(login_channel, client_id="nope"))
    assert unknown_client.status_code == 400
    unregistered = requests.get(f"{line_sandbox.url}/oauth2/v2.1/authorize", timeout=10,
                                params=authorize_params(login_channel, redirect_uri="http://evil.invalid/cb"))
    assert unregistered.status_code == 400
    no_state = requests.get(f"{line_sandbox.url}/oauth2/v2.1/authorize", allow_redirects=False, timeout=10,
                            params={k: v for k, v in authorize_params(login_channel).items() if k != "state"})
    assert no_state.status_code == 302 and "error=invalid_request" in no_state.headers["Location"]
    assert requests.get(f"{line_sandbox.url}/v2/profile", headers={"Authorization": "Bearer nope"},
                        timeout=10).status_code == 401
