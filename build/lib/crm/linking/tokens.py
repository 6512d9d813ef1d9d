"""Signed, expiring, single-use links that bind the linking form to one LINE friend."""
import secrets

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from crm.extensions import db
from crm.linking.models import SpentLinkToken

SALT = "line-link-form"


class BadLinkToken(ValueError):
    """Forged, expired or already used; `reason` says which."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(friend):
    """A token naming the shop and the friend, with a fresh id for single use."""
    return _serializer().dumps({"s": friend.shop_id, "f": friend.id, "j": secrets.token_urlsafe(16)})


def read_token(token):
    """The token's claims if it is genuine, fresh and unused; raises BadLinkToken otherwise."""
    try:
        claims = _serializer().loads(token, max_age=current_app.config["LINK_TOKEN_MAX_AGE"])
    except SignatureExpired as exc:
        raise BadLinkToken("expired") from exc
    except BadSignature as exc:
        raise BadLinkToken("forged") from exc
    if not isinstance(claims, dict) or not {"s", "f", "j"} <= claims.keys():
        raise BadLinkToken("forged")
    spent = db.session.scalar(sa.select(sa.exists().where(SpentLinkToken.jti == claims["j"])))
    if spent:
        raise BadLinkToken("used")
    return claims


def spend(claims):
    """Mark the token used, in the linking transaction; a concurrent second use fails on the unique key."""
    db.session.add(SpentLinkToken(jti=claims["j"]))
    db.session.flush()
