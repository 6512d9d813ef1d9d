"""The WSGI application of an installed package: `gunicorn crm.wsgi:app`, `flask --app crm.wsgi ...`."""
from crm.startup import install_cli_errors

install_cli_errors()  # a wrong DATABASE_URL or a missing secret: one line, not a traceback

from crm import create_app  # noqa: E402

app = create_app()
