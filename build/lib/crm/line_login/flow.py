"""The sign-in round trip: state and nonce kept in the session, checked once on the way back."""
import hmac
import secrets
import time

from flask import session

from crm.line_login.client import (
    LineIdentity,
    LoginFailed,
    authorize_url,
    exchange_code,
    friendship_flag,
    verify_id_token,
)

SESSION_KEY = "line_login"
MAX_AGE_SECONDS = 10 * 60  # LINE's authorization codes live ten minutes too


def begin(channel_id, redirect_uri, purpose, carry=None, bot_prompt="normal"):
    """Start a sign-in: a fresh state and nonce in the session, and the URL to send the browser to.

    `purpose` names what the sign-in is for (e.g. a shop's booking page) and must be
    given again to `finish`; `carry` is small JSON data handed back by `finish`.
    """
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    session[SESSION_KEY] = {
        "state": state,
        "nonce": nonce,
        "purpose": purpose,
        "redirect_uri": redirect_uri,
        "started": int(time.time()),
        "carry": carry or {},
    }
    return authorize_url(channel_id, redirect_uri, state, nonce, bot_prompt=bot_prompt)


def pending_carry(purpose):
    """What `begin` was given for this purpose, while its sign-in is pending (else None)."""
    pending = session.get(SESSION_KEY)
    if not isinstance(pending, dict) or pending.get("purpose") != purpose:
        return None
    return pending.get("carry") or {}


def finish(args, channel_id, channel_secret, purpose):
    """Verify the callback's query (`args`); returns (LineIdentity, carry) or raises LoginFailed.

    The pending sign-in is removed from the session first, so a state is good once.
    """
    pending = session.pop(SESSION_KEY, None)
    if not isinstance(pending, dict) or pending.get("purpose") != purpose:
        raise LoginFailed("no sign-in pending in this session")
    if time.time() - pending.get("started", 0) > MAX_AGE_SECONDS:
        raise LoginFailed("the sign-in took too long")
    returned = args.get("state", "")
    if not returned or not hmac.compare_digest(returned.encode(), str(pending.get("state", "")).encode()):
        raise LoginFailed("state does not match this session's sign-in")
    if args.get("error"):
        raise LoginFailed(f"LINE answered {args.get('error')}: {args.get('error_description', '')}")
    code = args.get("code")
    if not code:
        raise LoginFailed("no authorization code")
    tokens = exchange_code(channel_id, channel_secret, code, pending["redirect_uri"])
    claims = verify_id_token(tokens["id_token"], channel_id, channel_secret, pending.get("nonce"))
    changed = args.get("friendship_status_changed")
    is_friend = friendship_flag(tokens["access_token"]) if tokens.get("access_token") else None
    identity = LineIdentity(
        user_id=claims["sub"],
        display_name=str(claims.get("name") or "")[:120],
        picture_url=(str(claims["picture"])[:500] if claims.get("picture") else None),
        friendship_status_changed=None if changed is None else changed == "true",
        is_friend=is_friend,
    )
    return identity, pending.get("carry") or {}
