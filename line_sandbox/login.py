"""LINE Login v2.1 (OAuth 2.0 / OpenID Connect), as LINE documents it for web login.

* ``GET /oauth2/v2.1/authorize`` shows "which LINE user are you?" (the
  sandbox's users, plus a form to create one) instead of LINE's login screen;
  with ``bot_prompt`` it offers to add the login channel's linked bot as a
  friend, and the redirect carries ``friendship_status_changed``.
* ``POST /oauth2/v2.1/token`` exchanges a code (single use, 10 minutes,
  ``redirect_uri`` must match) or a refresh token; the ``id_token`` is an
  HS256 JWT signed with the login channel secret.
* ``POST /oauth2/v2.1/verify`` checks an ID token; ``GET`` checks an access token.
* ``GET /v2/profile`` and ``GET /friendship/v1/status`` with the access token.
"""
from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from flask import Blueprint, g, jsonify, redirect, render_template, request

from .api import LineError, sandbox
from .events import issue_follow_if_needed
from .state import new_user_id

bp = Blueprint("login", __name__)

ISSUER = "https://access.line.me"
CODE_LIFETIME_SECONDS = 600
ACCESS_TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600
ID_TOKEN_LIFETIME_SECONDS = 3600
_AUTH_PARAMS = ("response_type", "client_id", "redirect_uri", "state", "scope", "nonce", "bot_prompt", "prompt")


def oauth_error(status: int, error: str, description: str):
    return jsonify(error=error, error_description=description), status


def _with_query(url: str, params: dict) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _check_client(params) -> tuple[dict | None, str | None]:
    """The login channel of an authorize request, or an error to show."""
    with sandbox().state.read() as data:
        login = data["login_channels"].get(params.get("client_id", ""))
        login = dict(login) if login else None
        bot = data["channels"].get(login["bot_channel_id"]) if login and login.get("bot_channel_id") else None
    g.log_channel = params.get("client_id") or g.get("log_channel")
    if login is None:
        return None, "client_id が不正です（LINE Login チャネルが登録されていません）。"
    if not params.get("redirect_uri"):
        return None, "redirect_uri がありません。"
    if login["callback_urls"] and params["redirect_uri"] not in login["callback_urls"]:
        return None, "redirect_uri がコールバックURLとして登録されていません。"
    login["bot"] = bot
    return login, None


@bp.get("/oauth2/v2.1/authorize")
def authorize():
    params = {k: request.args[k] for k in _AUTH_PARAMS if k in request.args}
    login, problem = _check_client(params)
    if problem:
        return render_template("login_error.html", problem=problem), 400
    if params.get("response_type") != "code" or not params.get("state") or not params.get("scope"):
        return redirect(_with_query(params["redirect_uri"], {
            "error": "invalid_request",
            "error_description": "response_type=code, state and scope are required",
            "state": params.get("state")}))
    with sandbox().state.read() as data:
        users = sorted(data["users"].values(), key=lambda u: u["display_name"])
        friends = data["friends"].get((login["bot"] or {}).get("channel_id"), {})
        users = [{**u, "is_friend": friends.get(u["user_id"]) == "friend"} for u in users]
    return render_template("authorize.html", params=params, users=users, login=login,
                           offer_friend=bool(params.get("bot_prompt") and login["bot"]))


@bp.post("/oauth2/v2.1/authorize")
def choose_user():
    params = {k: request.form[k] for k in _AUTH_PARAMS if k in request.form}
    login, problem = _check_client(params)
    if problem:
        return render_template("login_error.html", problem=problem), 400
    if request.form.get("action") == "cancel":
        return redirect(_with_query(params["redirect_uri"], {
            "error": "access_denied", "error_description": "The resource owner denied the request.",
            "state": params.get("state")}))
    state = sandbox().state
    user_id = request.form.get("user_id")
    if request.form.get("action") == "create" or not user_id:
        name = request.form.get("display_name", "").strip()
        if not name:
            return render_template("login_error.html", problem="表示名を入力してください。"), 400
        user_id = new_user_id()
        with state.change() as data:
            data["users"][user_id] = {"user_id": user_id, "display_name": name, "picture_url": None,
                                      "status_message": None, "language": "ja"}
    with state.read() as data:
        if user_id not in data["users"]:
            return render_template("login_error.html", problem="そのLINEユーザーはいません。"), 400
    changed = False
    if params.get("bot_prompt") and login["bot"] and request.form.get("add_friend"):
        changed = issue_follow_if_needed(state, login["bot"]["channel_id"], user_id)
    code = secrets.token_urlsafe(15)
    with state.change() as data:
        data["login_codes"][code] = {"client_id": login["channel_id"], "redirect_uri": params["redirect_uri"],
                                     "user_id": user_id, "scope": params.get("scope", ""),
                                     "nonce": params.get("nonce"), "issued_at": time.time(), "used": False}
    query = {"code": code, "state": params.get("state")}
    if params.get("bot_prompt"):
        query["friendship_status_changed"] = "true" if changed else "false"
    return redirect(_with_query(params["redirect_uri"], query))


def _id_token(login: dict, user: dict, scope: str, nonce: str | None) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": user["user_id"], "aud": login["channel_id"], "exp": now + ID_TOKEN_LIFETIME_SECONDS,
              "iat": now, "amr": ["linesso"]}
    if nonce:
        claims["nonce"] = nonce
    if "profile" in scope.split():
        claims["name"] = user["display_name"]
        if user.get("picture_url"):
            claims["picture"] = user["picture_url"]
    return jwt.encode(claims, login["channel_secret"], algorithm="HS256")


def _issue_tokens(data, login: dict, user_id: str, scope: str, nonce: str | None) -> dict:
    access_token, refresh_token = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    data["login_tokens"][access_token] = {"client_id": login["channel_id"], "user_id": user_id, "scope": scope,
                                          "expires_at": time.time() + ACCESS_TOKEN_LIFETIME_SECONDS}
    data["login_refresh"][refresh_token] = {"access_token": access_token, "client_id": login["channel_id"],
                                            "user_id": user_id, "scope": scope}
    body = {"access_token": access_token, "expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
            "refresh_token": refresh_token, "scope": scope, "token_type": "Bearer"}
    if "openid" in scope.split():
        body["id_token"] = _id_token(login, data["users"][user_id], scope, nonce)
    return body


@bp.post("/oauth2/v2.1/token")
def token():
    form = request.form
    g.log_channel = form.get("client_id") or g.get("log_channel")
    with sandbox().state.change() as data:
        login = data["login_channels"].get(form.get("client_id", ""))
        if login is None or not secrets.compare_digest(login["channel_secret"], form.get("client_secret", "")):
            return oauth_error(400, "invalid_client", "invalid client_id or client_secret")
        if form.get("grant_type") == "refresh_token":
            grant = data["login_refresh"].pop(form.get("refresh_token", ""), None)
            if grant is None or grant["client_id"] != login["channel_id"]:
                return oauth_error(400, "invalid_grant", "invalid refresh token")
            data["login_tokens"].pop(grant["access_token"], None)
            body = _issue_tokens(data, login, grant["user_id"], grant["scope"], None)
            body.pop("id_token", None)
            return jsonify(body)
        if form.get("grant_type") != "authorization_code":
            return oauth_error(400, "unsupported_grant_type", "grant_type must be authorization_code")
        grant = data["login_codes"].get(form.get("code", ""))
        if grant is None or grant["used"] or grant["client_id"] != login["channel_id"]:
            return oauth_error(400, "invalid_grant", "invalid authorization code")
        if time.time() - grant["issued_at"] > CODE_LIFETIME_SECONDS:
            return oauth_error(400, "invalid_grant", "authorization code expired")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return oauth_error(400, "invalid_grant", "redirect_uri does not match")
        grant["used"] = True
        return jsonify(_issue_tokens(data, login, grant["user_id"], grant["scope"], grant["nonce"]))


@bp.post("/oauth2/v2.1/verify")
def verify_id_token():
    id_token, client_id = request.form.get("id_token", ""), request.form.get("client_id", "")
    g.log_channel = client_id or g.get("log_channel")
    with sandbox().state.read() as data:
        login = data["login_channels"].get(client_id)
        secret = login["channel_secret"] if login else None
    try:
        unverified = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return oauth_error(400, "invalid_request", "Invalid IdToken.")
    if secret is None or unverified.get("aud") != client_id:
        return oauth_error(400, "invalid_request", "Invalid IdToken Audience.")
    try:
        claims = jwt.decode(id_token, secret, algorithms=["HS256"], audience=client_id, issuer=ISSUER)
    except jwt.ExpiredSignatureError:
        return oauth_error(400, "invalid_request", "IdToken expired.")
    except jwt.InvalidTokenError:
        return oauth_error(400, "invalid_request", "Invalid IdToken.")
    if request.form.get("nonce") and request.form["nonce"] != claims.get("nonce"):
        return oauth_error(400, "invalid_request", "Invalid IdToken Nonce.")
    if request.form.get("user_id") and request.form["user_id"] != claims["sub"]:
        return oauth_error(400, "invalid_request", "Invalid IdToken Subject Identifier.")
    return jsonify(claims)


def _login_grant() -> dict:
    """The grant behind the request's login access token (Bearer or ?access_token=)."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.args.get("access_token", "")
    with sandbox().state.read() as data:
        grant = data["login_tokens"].get(token)
        user = data["users"].get(grant["user_id"]) if grant else None
        grant = dict(grant, token=token, user=dict(user)) if grant and user else None
    if grant is None or grant["expires_at"] < time.time():
        raise LineError(401, "invalid access token")
    g.log_channel = grant["client_id"]
    return grant


@bp.get("/oauth2/v2.1/verify")
def verify_access_token():
    try:
        grant = _login_grant()
    except LineError:
        return oauth_error(400, "invalid_request", "access token expired")
    return jsonify(scope=grant["scope"], client_id=grant["client_id"],
                   expires_in=int(grant["expires_at"] - time.time()))


@bp.post("/oauth2/v2.1/revoke")
def revoke():
    with sandbox().state.change() as data:
        data["login_tokens"].pop(request.form.get("access_token", ""), None)
    return "", 200


@bp.get("/v2/profile")
def profile():
    user = _login_grant()["user"]
    body = {"userId": user["user_id"], "displayName": user["display_name"]}
    for key, field in (("pictureUrl", "picture_url"), ("statusMessage", "status_message")):
        if user.get(field):
            body[key] = user[field]
    return jsonify(body)


@bp.get("/friendship/v1/status")
def friendship_status():
    grant = _login_grant()
    state = sandbox().state
    with state.read() as data:
        login = data["login_channels"].get(grant["client_id"], {})
        bot_channel_id = login.get("bot_channel_id")
        is_friend = bool(bot_channel_id) and state.friendship(bot_channel_id, grant["user_id"]) == "friend"
    return jsonify(friendFlag=is_friend)
