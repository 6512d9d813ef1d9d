"""Fixtures: one migrated database per run, a rolled-back transaction per test."""
import hashlib
import os
from contextlib import contextmanager
from datetime import datetime

import pytest
import sqlalchemy as sa
import time_machine
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session
from itsdangerous import URLSafeTimedSerializer

from crm import create_app
from crm.config import TestingConfig
from crm.extensions import db as _db
from crm.extensions import limiter
from tests import factories

pytest_plugins = ["tests.plugins.redis_db", "tests.plugins.line_sandbox", "tests.plugins.line_shop", "tests.plugins.smtp_sink",
                  "tests.plugins.rq_worker"]



def pytest_addoption(parser):
    parser.addoption(
        "--now", default=os.environ.get("CRM_TEST_NOW") or None, metavar="ISO8601",
        help="run the whole suite as if it started at this instant (with its UTC offset, e.g. "
             "2026-12-31T23:59:30+09:00); the clock ticks on from there. Also $CRM_TEST_NOW.",
    )


def pytest_configure(config):
    # Started before the app exists, so every "now" of the run (the app's, the
    # sandbox's, the tests') comes from the pinned clock.
    now = config.getoption("--now")
    if now:
        instant = datetime.fromisoformat(now)
        if instant.tzinfo is None:
            raise pytest.UsageError("--now needs a UTC offset, e.g. 2027-01-01T00:00:00+09:00")
        config._pinned_clock = time_machine.travel(instant, tick=True)
        config._pinned_clock.start()


def pytest_unconfigure(config):
    clock = getattr(config, "_pinned_clock", None)
    if clock is not None:
        clock.stop()


def pytest_report_header(config):
    now = config.getoption("--now")
    return f"clock pinned: the run starts at {now}" if now else None




def _database_url(tmp_path_factory):
    # TEST_DATABASE_URL points the suite at PostgreSQL (.ci/run does); the
    # embedded default is a SQLite file per run.
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def _drop_everything(engine):
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The application, on a database built by the migrations (so they are tested too)."""
    url = _database_url(tmp_path_factory)

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        # Read again here: tests.plugins.redis_db pointed it at this run's own database.
        RATELIMIT_STORAGE_URI = os.environ.get("TEST_RATELIMIT_STORAGE_URI", "memory://")

    application = create_app(Config)
    with application.app_context():
        _drop_everything(_db.engine)
        upgrade()
    yield application
    with application.app_context():
        _db.engine.dispose()


class _ConnectionBoundSession(Session):
    """Always use the test's connection, inside its outer transaction."""

    def get_bind(self, *args, **kwargs):
        return self.bind


@pytest.fixture
def db(app):
    """The database inside a transaction that is rolled back after the test."""
    with app.app_context():
        connection = _db.engine.connect()
        transaction = connection.begin()
        original = _db.session
        _db.session = _db._make_scoped_session(
            {"class_": _ConnectionBoundSession, "bind": connection, "join_transaction_mode": "create_savepoint"}
        )
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    limiter.reset()
    yield


class Client(FlaskClient):
    """A test client that can fetch a CSRF token and post forms with it."""

    def open(self, *args, **kwargs):
        # Each request gets its own app context, so `g` and the request's
        # session start fresh as in production, while the test's own session
        # (of the outer context) shares the connection and its transaction.
        with self.application.app_context():
            return super().open(*args, **kwargs)

    def csrf_token(self):
        """A CSRF token for this client's session, without a request.

        Flask-WTF signs the session's raw token (``session["csrf_token"]``); the
        signed form stays valid as long as that raw token does.  So the token is
        cached per client, keyed by the raw token: a sign-in or sign-out clears
        the session, and the next call makes a new one.  (It used to GET /login
        and read the meta tag: about 90 call sites, a rendered page each.)
        """
        field = self.application.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        with self.session_transaction() as session:
            raw = session.get(field)
            if raw is None:
                raw = session[field] = hashlib.sha1(os.urandom(64)).hexdigest()
        cached = getattr(self, "_csrf_cache", None)
        if cached is None or cached[0] != raw:
            secret = self.application.config.get("WTF_CSRF_SECRET_KEY") or self.application.secret_key
            cached = self._csrf_cache = (raw, URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw))
        return cached[1]

    def post_form(self, url, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)

    def htmx_get(self, url, target, **kwargs):
        headers = {"HX-Request": "true", "HX-Target": target, **kwargs.pop("headers", {})}
        return self.get(url, headers=headers, **kwargs)


@pytest.fixture
def client(app, db):
    app.test_client_class = Client
    return app.test_client()


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, staff, password=factories.PASSWORD):
        response = self.client.post_form("/login", {"email": staff.email, "password": password})
        return response

    def logout(self):
        return self.client.post_form("/logout")


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def shop(db):
    """A premium shop with its owner: (shop, owner)."""
    return factories.make_shop()


@pytest.fixture
def owner(shop):
    return shop[1]


@pytest.fixture
def count_queries(db):
    """Counts SQL statements run inside the block: `with count_queries() as queries: ...`."""

    @contextmanager
    def counter():
        statements = []

        def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
                statements.append(statement)

        engine = _db.engine
        sa.event.listen(engine, "before_cursor_execute", before_cursor_execute)
        try:
            yield statements
        finally:
            sa.event.remove(engine, "before_cursor_execute", before_cursor_execute)

    return counter


@pytest.fixture
def english(app):
    """The compiled English catalog; built here, as bin/setup does, when pytest runs without it."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from flask_babel import get_domain

    from crm.config import BASE_DIR

    po = BASE_DIR / "crm" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        partial = mo.with_name(f".messages.{os.getpid()}.mo")  # *.mo: ignored by git
        with po.open("rb") as source:
            catalog = read_po(source, locale="en")
        with partial.open("wb") as f:
            write_mo(f, catalog)
        os.replace(partial, mo)
        with app.app_context():
            get_domain().cache.clear()  # forget a catalog loaded before it existed
