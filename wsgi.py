"""WSGI entry point of a checkout: `gunicorn -c gunicorn.conf.py wsgi:app`, `flask --app wsgi ...` (see crm/wsgi.py)."""
from crm.wsgi import app  # noqa: F401
