"""/healthz for load balancers and platforms: the database and (when configured) Redis answer."""
import logging

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from crm.extensions import csrf, db, limiter

log = logging.getLogger(__name__)

blueprint = Blueprint("health", __name__)
# No login, CSRF or rate limit: the platform's probe has none of them and must never be throttled.
csrf.exempt(blueprint)
limiter.exempt(blueprint)

REDIS_TIMEOUT_SECONDS = 2


def _database_ok() -> bool:
    try:
        # Through the session (the ORM pool), as every request goes.
        db.session.execute(sa.text("SELECT 1"))
        return True
    except Exception as exc:  # noqa: BLE001 — any failure means "down"; the log says which
        # The 503 answer rolls the request back (crm/transactions.py), which also clears the failed statement.
        log.error("health check: database down: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return False


def _redis_ok(url: str) -> bool:
    from redis import Redis

    client = Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS)
    try:
        return bool(client.ping())
    except Exception as exc:  # noqa: BLE001
        log.error("health check: Redis down: %s", exc)
        return False
    finally:
        client.close()


@blueprint.route("/healthz", methods=["GET", "HEAD"])
def healthz():
    """200 when the database and Redis (if configured) answer, else 503 naming the part that is down."""
    parts = {"database": "ok" if _database_ok() else "unavailable"}
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        parts["redis"] = "ok" if _redis_ok(redis_url) else "unavailable"
    else:
        parts["redis"] = "not configured"
    healthy = all(value != "unavailable" for value in parts.values())
    response = jsonify(status="ok" if healthy else "unavailable", **parts)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
