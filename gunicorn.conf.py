"""gunicorn's settings, from the environment (Procfile: `gunicorn -c gunicorn.conf.py wsgi:app`).

PORT / GUNICORN_BIND   where to listen (0.0.0.0:$PORT, 8000 by default)
WEB_CONCURRENCY        worker processes (4)
GUNICORN_THREADS       threads per worker, gthread (4); keep DB_POOL_SIZE at least this
GUNICORN_TIMEOUT       seconds a request may take before its worker is restarted (30)
GUNICORN_GRACEFUL_TIMEOUT, GUNICORN_KEEPALIVE   (30, 5)
LOG_LEVEL              gunicorn's error log level, the same variable as the app's (INFO)
The access log goes to stdout, one line per request with its X-Request-ID.
"""
import os


def _int(name, default):
    value = os.environ.get(name)
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        raise RuntimeError(f"{name} must be a whole number (not {value!r})") from None


bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"]
workers = _int("WEB_CONCURRENCY", 4)
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The response's X-Request-ID is the one the app logged the request's lines with.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'


def on_starting(server):
    """Check the settings once in the master: a wrong one is one line and exit 1, not a worker boot loop."""
    from crm.startup import check_environment

    check_environment()  # a ConfigError is a RuntimeError: gunicorn prints "Error: ..." and exits
