"""Settings checked before the app starts, and one-line errors for operators instead of tracebacks."""
import sys

import sqlalchemy as sa

from crm.config import ConfigError, config_from_env


def check_settings(config) -> None:
    """Raise ConfigError naming the variable when a required setting is missing or unusable."""
    if not config.get("SECRET_KEY"):
        raise ConfigError("SECRET_KEY must be set in the environment outside development")
    if not config.get("CREDENTIALS_KEYS"):
        raise ConfigError("CREDENTIALS_KEYS must be set in the environment outside development")
    check_database_url(config.get("SQLALCHEMY_DATABASE_URI"))


def prepare_data_dir(config) -> None:
    """Create the directory of a SQLite database file (the default lives in CRM_DATA_DIR)."""
    url = sa.engine.make_url(config["SQLALCHEMY_DATABASE_URI"])
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        from pathlib import Path

        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def check_environment() -> None:
    """check_settings() for the configuration the environment selects (gunicorn runs it before any worker)."""
    config = config_from_env()
    check_settings({name: getattr(config, name) for name in dir(config) if name.isupper()})


_URL_HELP = "e.g. postgresql://user:password@host:5432/dbname or sqlite:///path/to/file.sqlite3"


def check_database_url(url) -> None:
    """Raise ConfigError when DATABASE_URL cannot be parsed or names a database this install cannot drive."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"DATABASE_URL is not a database URL ({_URL_HELP})") from None
    try:
        parsed.get_dialect().import_dbapi()
    except sa.exc.NoSuchModuleError:
        raise ConfigError(f"DATABASE_URL has the unknown scheme {parsed.drivername!r} ({_URL_HELP})") from None
    except ImportError as exc:
        raise ConfigError(f"DATABASE_URL needs the driver {exc.name or parsed.drivername!r}, "
                          f"which is not installed ({_URL_HELP})") from None


def _database_location():
    # The URL's host and database, never its password.
    try:
        url = sa.engine.make_url(config_from_env().SQLALCHEMY_DATABASE_URI)
    except Exception:  # unparseable URLs were reported before any connection
        return ""
    if url.drivername.startswith("sqlite"):
        return f" {url.database}"
    return f" {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def operator_error(error):
    """The one line to print for an exception an operator fixes in the environment, else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ConfigError):
            return f"Error: {error}"
        # A DBAPI error without a statement was raised while connecting.
        if isinstance(error, sa.exc.DBAPIError) and error.statement is None:
            detail = str(error.orig).strip().splitlines()[0] if error.orig else ""
            return f"Error: cannot connect to the database of DATABASE_URL{_database_location()}: {detail}"
        error = error.__cause__ or error.__context__
    return None


def install_cli_errors() -> None:
    """Print operator errors of `flask ...` commands as one line, without a traceback (exit status 1)."""
    previous = sys.excepthook

    def hook(kind, error, traceback):
        line = operator_error(error)
        if line is None:
            return previous(kind, error, traceback)
        print(line, file=sys.stderr)

    sys.excepthook = hook
