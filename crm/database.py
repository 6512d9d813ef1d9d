"""Column types and helpers shared by every domain's models."""
import threading
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db


def utcnow():
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(sa.types.TypeDecorator):
    """Stores aware datetimes as UTC and hands them back aware, on every database."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store aware datetimes only")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite drops the offset; it was stored as UTC
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def str_enum(enum_cls, length=16):
    """A Python enum stored as its string values (VARCHAR, no database ENUM type to migrate)."""
    return sa.Enum(enum_cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


def ordered_text(length):
    """A string column compared byte-wise (code point order) on every database.

    On PostgreSQL the "C" collation lets one plain b-tree index serve both
    ``LIKE 'prefix%'`` searches and ORDER BY; code point order is also the
    gojūon order for katakana.  SQLite's default BINARY collation is the same.
    """
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """Turn on foreign keys and let SQLAlchemy, not pysqlite, drive transactions."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        # pysqlite's own transaction handling breaks SAVEPOINT; see SQLAlchemy's
        # "Serializable isolation / Savepoints" recipe for pysqlite.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    # IMMEDIATE takes the write lock up front: a deferred transaction that
    # reads, then writes after another writer committed, fails at once with
    # "database is locked" instead of waiting (busy_timeout) for its turn.
    # Jobs therefore never keep a transaction open while calling LINE.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def autocommit_engine():
    """The app's database through a pool of autocommit connections: each statement commits by itself.

    For a single durable write on a hot path (the LINE webhook): one round trip
    instead of BEGIN, statement and COMMIT, and no ORM session.  Same URL and
    pool settings as the app's engine, so at most that many connections more.
    """
    from flask import current_app

    engine = db.engine
    autocommit = _autocommit_engines.get(engine)
    if autocommit is None:
        with _autocommit_lock:
            autocommit = _autocommit_engines.get(engine)
            if autocommit is None:
                options = dict(current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
                # Nothing to roll back when a connection returns: every statement committed.
                autocommit = _autocommit_engines[engine] = sa.create_engine(
                    engine.url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **options
                )
    return autocommit


_autocommit_engines: dict[str, Engine] = {}
_autocommit_lock = threading.Lock()


def session_joins_outer_transaction():
    """True when db.session is bound to a connection whose transaction its owner ends (the tests' rolled-back one).

    Code that would commit on its own connection must then write through the
    session instead.  Checked on the session factory, without creating a session.
    """
    return isinstance(db.session.session_factory.kw.get("bind"), sa.Connection)


def get_for_shop_or_404(model, object_id, shop_id=None):
    """Load a shop-owned row by id, answering 404 when it belongs to another shop."""
    from flask import abort
    from flask_login import current_user

    if shop_id is None:
        shop_id = current_user.shop_id
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        abort(404)
    obj = db.session.execute(
        sa.select(model).where(model.id == object_id, model.shop_id == shop_id)
    ).scalar_one_or_none()
    if obj is None:
        abort(404)
    return obj


def skip_locked(stmt: sa.Select) -> sa.Select:
    """SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, so workers share rows without waiting.

    SQLite has no row locks (its write transactions are serial), so the
    statement runs as it is there.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def insert_ignoring(target: Any, index_elements: list[str]) -> Any:
    """INSERT ... ON CONFLICT (index_elements) DO NOTHING, in the session's dialect."""
    name = db.session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(target).on_conflict_do_nothing(index_elements=index_elements)
    if name == "sqlite":
        return sqlite.insert(target).on_conflict_do_nothing(index_elements=index_elements)
    raise NotImplementedError(name)


def insert_returning_ids(table: sa.Table, rows: list[dict]) -> list[int]:
    """INSERT many rows of a table with an integer `id`; their new ids, in the rows' order.

    On PostgreSQL the ids are taken from the table's sequence first (one query) and
    the rows then go as one executemany, which psycopg pipelines: several times
    faster than INSERT ... VALUES (...), (...) RETURNING, whose long statement the
    driver parses again for every page of rows.
    """
    if not rows:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        sequence = sa.func.pg_get_serial_sequence(table.name, "id")
        ids = list(db.session.scalars(sa.select(sa.func.nextval(sequence)).select_from(
            sa.func.generate_series(1, len(rows)))))
        db.session.execute(sa.insert(table), [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)])
        return ids
    return list(db.session.scalars(sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), rows))
