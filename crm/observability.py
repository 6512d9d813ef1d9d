"""Logging with a request id on every line, and the WSGI layers that see the raw request first."""
import contextvars
import logging
import logging.config
import re
import uuid

from rq import get_current_job
from werkzeug.middleware.proxy_fix import ProxyFix

from crm.config import ConfigError

REQUEST_ID_HEADER = "X-Request-ID"
# Accepted from the client or the proxy only when it is short and plain: it goes into every log line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,200}")

_request_id = contextvars.ContextVar("request_id", default=None)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def current_request_id():
    """The id of the request being served (or of the request that enqueued this job), else None."""
    return _request_id.get()


def _log_context_id():
    request_id = _request_id.get()
    if request_id:
        return request_id
    job = get_current_job()  # an rq job: its own id
    if job is not None:
        return f"job:{job.id}"
    return "-"


def _install_record_factory():
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_id", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.request_id = _log_context_id()
        return record

    factory.adds_request_id = True
    logging.setLogRecordFactory(factory)


def configure_logging(app) -> None:
    """Every log record gets `request_id`; outside tests the root logger writes LOG_LEVEL and up to stderr."""
    level = app.config.get("LOG_LEVEL", "INFO")
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (not {level!r})")
    _install_record_factory()
    if app.testing:
        return  # pytest captures and shows logs itself
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": LOG_FORMAT}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "line"}},
        "root": {"level": level, "handlers": ["stderr"]},
    })


class RequestIdMiddleware:
    """WSGI: take a sane X-Request-ID from the request or make one; log lines and the response carry it."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        environ["HTTP_X_REQUEST_ID"] = request_id
        token = _request_id.set(request_id)

        def start_with_id(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((REQUEST_ID_HEADER, request_id))
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start_with_id)
        finally:
            _request_id.reset(token)


def proxy_fix(config, wsgi_app):
    """Trust X-Forwarded-* from as many proxies as PROXY_FIX_* say (none by default)."""
    counts = {name: int(config.get(f"PROXY_FIX_X_{name.upper()}", 0)) for name in ("for", "proto", "host", "port", "prefix")}
    if not any(counts.values()):
        return wsgi_app
    return ProxyFix(wsgi_app, **{f"x_{name}": count for name, count in counts.items()})
