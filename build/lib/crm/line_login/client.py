"""Calls to LINE Login v2.1 and local verification of its ID tokens."""
import hmac
import logging
from dataclasses import dataclass
from urllib.parse import urlencode

import jwt
import requests
from flask import current_app

log = logging.getLogger(__name__)

ISSUER = "https://access.line.me"
SCOPE = "openid profile"
ID_TOKEN_LEEWAY_SECONDS = 30  # clock skew between LINE and us


class LoginFailed(Exception):
    """The sign-in cannot be trusted or did not complete; `reason` is for the log, not the visitor."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LineIdentity:
    """The verified LINE user of an ID token."""

    user_id: str
    display_name: str
    picture_url: str | None
    friendship_status_changed: bool | None = None
    is_friend: bool | None = None


def authorize_url(channel_id, redirect_uri, state, nonce, bot_prompt="normal"):
    """Where the visitor's browser goes to sign in (and, with bot_prompt, add the shop as a friend)."""
    params = {
        "response_type": "code",
        "client_id": channel_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "scope": SCOPE,
        "nonce": nonce,
    }
    if bot_prompt:
        params["bot_prompt"] = bot_prompt
    return current_app.config["LINE_ACCESS_BASE_URL"].rstrip("/") + "/oauth2/v2.1/authorize?" + urlencode(params)


def exchange_code(channel_id, channel_secret, code, redirect_uri):
    """The token response for an authorization code (access_token, id_token, ...)."""
    url = current_app.config["LINE_API_BASE_URL"].rstrip("/") + "/oauth2/v2.1/token"
    try:
        response = requests.post(
            url,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": channel_id,
                "client_secret": channel_secret,
            },
            timeout=current_app.config["LINE_API_TIMEOUT"],
        )
    except requests.RequestException as exc:
        raise LoginFailed(f"token endpoint unreachable: {exc}") from exc
    if response.status_code != 200:
        raise LoginFailed(f"token endpoint answered {response.status_code}: {response.text[:200]}")
    try:
        body = response.json()
    except ValueError as exc:
        raise LoginFailed("token endpoint answered something other than JSON") from exc
    if not isinstance(body, dict) or not body.get("id_token"):
        raise LoginFailed("no id_token in the token response")
    return body


def verify_id_token(id_token, channel_id, channel_secret, nonce):
    """The ID token's claims, if LINE signed it for this channel and this sign-in; LoginFailed otherwise."""
    if not nonce:
        raise LoginFailed("no nonce to compare")
    try:
        claims = jwt.decode(
            id_token,
            channel_secret,
            algorithms=["HS256"],  # LINE signs web login ID tokens with the channel secret
            audience=channel_id,
            issuer=ISSUER,
            leeway=ID_TOKEN_LEEWAY_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise LoginFailed("id_token expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise LoginFailed("id_token audience is another channel") from exc
    except jwt.InvalidIssuerError as exc:
        raise LoginFailed("id_token issuer is not LINE") from exc
    except jwt.InvalidSignatureError as exc:
        raise LoginFailed("id_token signature does not verify") from exc
    except jwt.InvalidTokenError as exc:
        raise LoginFailed(f"id_token refused: {exc}") from exc
    claimed = claims.get("nonce")
    if not isinstance(claimed, str) or not hmac.compare_digest(claimed.encode(), nonce.encode()):
        raise LoginFailed("id_token nonce is not the one of this sign-in")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise LoginFailed("id_token without a subject")
    return claims


def friendship_flag(access_token):
    """Whether the user is a friend of the login channel's linked Official Account (None if unknown)."""
    url = current_app.config["LINE_API_BASE_URL"].rstrip("/") + "/friendship/v1/status"
    try:
        response = requests.get(
            url, headers={"Authorization": f"Bearer {access_token}"}, timeout=current_app.config["LINE_API_TIMEOUT"]
        )
        if response.status_code != 200:
            return None
        flag = response.json().get("friendFlag")
    except (requests.RequestException, ValueError, AttributeError) as exc:
        log.info("friendship status unknown: %s", exc)
        return None
    return flag if isinstance(flag, bool) else None
