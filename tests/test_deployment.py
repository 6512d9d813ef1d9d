"""Deployment: Procfile, gunicorn.conf.py, .env, ProxyFix, request ids, /healthz, DATABASE_URL, one-line errors."""
import logging
import os
import re
import runpy
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from crm import create_app
from crm.config import BASE_DIR, ConfigError, TestingConfig, normalize_database_url
from crm.startup import check_database_url

ROOT = BASE_DIR
BIN = Path(sys.executable).parent


def closed_port():
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_app(**settings):
    config = type("Config", (TestingConfig,), settings)
    return create_app(config)


# -- Procfile and gunicorn.conf.py ---------------------------------------------------------------

def test_procfile_declares_the_four_processes():
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert lines == {
        "web": "gunicorn -c gunicorn.conf.py wsgi:app",
        "worker": "flask --app wsgi crm worker",
        "cron": "flask --app wsgi crm cron",
        "release": "flask --app wsgi db upgrade",
    }


def test_gunicorn_conf_reads_the_environment(monkeypatch):
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "8")
    monkeypatch.setenv("GUNICORN_TIMEOUT", "45")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["bind"] == ["0.0.0.0:9123"]
    assert (conf["workers"], conf["threads"], conf["worker_class"], conf["timeout"]) == (3, 8, "gthread", 45)
    assert conf["loglevel"] == "warning"
    assert conf["accesslog"] == "-"  # stdout
    assert "%({x-request-id}o)s" in conf["access_log_format"]


def test_gunicorn_conf_defaults_match_the_readme(monkeypatch):
    for name in ("PORT", "GUNICORN_BIND", "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (conf["bind"], conf["workers"], conf["threads"]) == (["0.0.0.0:8000"], 4, 4)
    monkeypatch.setenv("GUNICORN_BIND", "unix:/run/crm.sock")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == ["unix:/run/crm.sock"]


def test_gunicorn_conf_refuses_a_bad_number(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "four")
    with pytest.raises(RuntimeError, match="WEB_CONCURRENCY"):
        runpy.run_path(str(ROOT / "gunicorn.conf.py"))


# -- .env ----------------------------------------------------------------------------------------

def _readme_variables():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Z_]+)` \|", section, re.M)


def test_env_example_lists_every_documented_variable():
    documented = _readme_variables()
    assert "PROXY_FIX_X_FOR" in documented and "DB_PGBOUNCER" in documented
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z_]+)=", example, re.M))
    assert set(documented) - listed == set()


def _flask(args, cwd=ROOT, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DATABASE_", "SECRET_", "CREDENTIALS_", "FLASK_", "REDIS_"))}
    base.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=120)


def test_development_reads_dotenv_without_overriding_the_environment(tmp_path):
    (tmp_path / ".env").write_text("CRM_ENV=development\nDATABASE_URL=not a url\n")
    from_file = _flask(["db", "current"], cwd=tmp_path)
    assert from_file.returncode == 1 and "DATABASE_URL is not a database URL" in from_file.stderr
    real = _flask(["db", "current"], cwd=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert real.returncode == 0, real.stderr


# -- DATABASE_URL and one-line errors ------------------------------------------------------------

@pytest.mark.parametrize("given, expected", [
    ("postgres://u:p@db.example:5432/crm", "postgresql+psycopg://u:p@db.example:5432/crm"),
    ("postgresql://u@host/crm?sslmode=require", "postgresql+psycopg://u@host/crm?sslmode=require"),
    ("postgresql+psycopg://u@host/crm", "postgresql+psycopg://u@host/crm"),
    ("postgresql+psycopg2://u@host/crm", "postgresql+psycopg2://u@host/crm"),
    ("sqlite:///var/crm.sqlite3", "sqlite:///var/crm.sqlite3"),
    ("  postgres://u@h/d\n", "postgresql+psycopg://u@h/d"),
])
def test_database_url_forms_of_managed_providers(given, expected):
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize("url, message", [
    ("not a url", "DATABASE_URL is not a database URL"),
    ("mongodb://host/db", "DATABASE_URL has the unknown scheme 'mongodb'"),
    ("mysql://u@host/db", "DATABASE_URL needs the driver"),
])
def test_unusable_database_urls_are_refused(url, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_database_url(url)


def _one_line(result):
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("args", [["db", "upgrade"], ["crm", "tick"]])
def test_a_wrong_database_url_is_one_line_from_the_cli(args, tmp_path):
    line = _one_line(_flask(args, cwd=tmp_path, CRM_ENV="development", DATABASE_URL="postgres//nope"))
    assert line.startswith("Error: DATABASE_URL is not a database URL")


def test_an_unreachable_database_is_one_line_from_the_cli(tmp_path):
    port = closed_port()
    line = _one_line(_flask(["db", "upgrade"], cwd=tmp_path, CRM_ENV="development",
                            DATABASE_URL=f"postgres://postgres:secret@127.0.0.1:{port}/crm"))
    assert line.startswith(f"Error: cannot connect to the database of DATABASE_URL 127.0.0.1:{port}/crm")
    assert "secret" not in line


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CREDENTIALS_KEYS"])
def test_a_missing_production_secret_is_one_line_from_the_cli(missing, tmp_path):
    env = {"CRM_ENV": "production", "SECRET_KEY": "s" * 40, "CREDENTIALS_KEYS": TestingConfig.CREDENTIALS_KEYS,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    del env[missing]
    line = _one_line(_flask(["db", "upgrade"], cwd=tmp_path, **env))
    assert line == f"Error: {missing} must be set in the environment outside development"


def test_gunicorn_refuses_a_wrong_database_url_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DATABASE_"))}
    env.update(CRM_ENV="production", SECRET_KEY="s" * 40, CREDENTIALS_KEYS=TestingConfig.CREDENTIALS_KEYS,
               DATABASE_URL="mongodb://host/db", PYTHONPATH=str(ROOT), PORT=str(closed_port()))
    result = subprocess.run([str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Error: DATABASE_URL has the unknown scheme 'mongodb'" in result.stderr


def test_an_unknown_crm_env_is_a_config_error(monkeypatch):
    from crm.config import config_from_env

    monkeypatch.setenv("CRM_ENV", "staging")
    with pytest.raises(ConfigError, match="CRM_ENV"):
        config_from_env()


# -- ProxyFix and rate limits --------------------------------------------------------------------

def _sign_in_attempts(app, forwarded_for):
    client = app.test_client()
    statuses = []
    for n, address in enumerate(forwarded_for):
        html = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
        response = client.post("/login", data={"csrf_token": token, "email": f"nobody{n}@example.jp", "password": "x" * 12},
                               headers={"X-Forwarded-For": address}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
        statuses.append(response.status_code)
    return statuses


def test_behind_one_trusted_proxy_the_client_address_is_the_rate_limit_key(db):
    app = make_app(PROXY_FIX_X_FOR=1, LOGIN_RATE_LIMIT_PER_ADDRESS="2/minute")
    with app.app_context():
        statuses = _sign_in_attempts(app, ["203.0.113.5", "203.0.113.5", "203.0.113.5", "198.51.100.7"])
    assert statuses[2] == 429  # the third from one client
    assert statuses[3] != 429  # another client behind the same proxy is not throttled
    assert statuses[:2] == [statuses[3]] * 2


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(db):
    app = make_app(PROXY_FIX_X_FOR=0, LOGIN_RATE_LIMIT_PER_ADDRESS="2/minute")
    with app.app_context():
        statuses = _sign_in_attempts(app, ["203.0.113.5", "198.51.100.7", "192.0.2.9"])
    assert statuses[2] == 429  # a new X-Forwarded-For each time does not escape the limit


def test_the_webhook_sees_the_client_address_behind_the_proxy(db):
    app = make_app(PROXY_FIX_X_FOR=1)
    seen = {}

    def inner(environ, start_response):
        seen["addr"] = environ["REMOTE_ADDR"]
        start_response("204 No Content", [])
        return []

    ingress = app.wsgi_app.app.wsgi_app  # ProxyFix -> RequestIdMiddleware -> WebhookIngress
    ingress.wsgi_app = inner
    app.test_client().get("/anything", headers={"X-Forwarded-For": "203.0.113.5"}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert seen["addr"] == "203.0.113.5"
    assert type(ingress).__name__ == "WebhookIngress"


# -- request ids ---------------------------------------------------------------------------------

def test_a_sane_request_id_is_kept_and_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "req-1234.abcd"})
    assert response.headers["X-Request-ID"] == "req-1234.abcd"


@pytest.mark.parametrize("given", ["", "x" * 201, "bad id with spaces", "a;b", "<script>"])
def test_an_insane_request_id_is_replaced(client, given):
    response = client.get("/healthz", headers={"X-Request-ID": given} if given else {})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_log_lines_of_a_request_carry_its_id(client, caplog):
    with caplog.at_level(logging.INFO):
        response = client.post("/login", data={"email": "a@example.jp"})  # no CSRF token: logged, refused
    assert response.status_code == 400
    records = [r for r in caplog.records if "CSRF refused" in r.getMessage()]
    assert records and records[0].request_id == response.headers["X-Request-ID"]


def test_log_lines_of_a_webhook_request_carry_its_id(client, caplog):
    with caplog.at_level(logging.WARNING):
        response = client.post("/line/webhook/unknownkey", data=b"{}", headers={"X-Request-ID": "hook-1"})
    assert response.headers["X-Request-ID"] == "hook-1"


def test_outside_requests_the_id_is_a_dash(caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("crm.test").info("no request")
    assert caplog.records[-1].request_id == "-"


def test_in_process_jobs_log_with_the_enqueuing_requests_id(app, caplog):
    from crm import jobs, observability

    token = observability._request_id.set("req-job-1")
    try:
        with app.app_context():
            app.config["JOBS_MODE"] = "thread"
            try:
                with caplog.at_level(logging.ERROR):
                    jobs.enqueue("tests.test_deployment.failing_job").result(timeout=30)
            finally:
                app.config["JOBS_MODE"] = "sync"
    finally:
        observability._request_id.reset(token)
    records = [r for r in caplog.records if "failing_job" in r.getMessage()]
    assert records and records[0].request_id == "req-job-1"


def failing_job():
    raise ValueError("this job fails")


def test_log_format_shows_the_request_id():
    from crm.observability import LOG_FORMAT

    record = logging.LogRecord("crm", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id = "abc"
    assert "[abc] hello" in logging.Formatter(LOG_FORMAT).format(record)


def test_a_wrong_log_level_is_a_config_error():
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        make_app(LOG_LEVEL="LOUD")


# -- /healthz ------------------------------------------------------------------------------------

def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "not configured"}


def test_healthz_needs_no_login_and_is_exempt_from_rate_limits(client, app):
    from crm.extensions import limiter

    assert client.get("/customers/").status_code == 302  # pages need a login; the probe does not
    statuses = [client.get("/healthz").status_code for _ in range(3)] + [client.head("/healthz").status_code]
    assert statuses == [200] * 4
    assert "health" in limiter._blueprint_exemptions


def test_healthz_is_503_when_the_database_is_down(app):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/crm")
    with app.app_context():
        response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unavailable", "redis": "not configured"}


def test_healthz_is_503_when_redis_is_down(db):
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    with app.app_context():
        response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "ok", "redis": "unavailable"}


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL not set")
def test_healthz_checks_a_configured_redis(db):
    app = make_app(REDIS_URL=os.environ["TEST_REDIS_URL"])
    with app.app_context():
        response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.json["redis"] == "ok"


# -- writable paths ------------------------------------------------------------------------------

def test_data_dir_is_the_checkouts_var_or_crm_data_dir(tmp_path):
    code = "from crm.config import DATA_DIR, Config; print(DATA_DIR); print(Config.SQLALCHEMY_DATABASE_URI); print(Config.MEDIA_STORAGE_DIR)"
    env = {k: v for k, v in os.environ.items() if k not in ("CRM_DATA_DIR", "DATABASE_URL", "MEDIA_STORAGE_DIR")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(ROOT / "var"), f"sqlite:///{ROOT / 'var' / 'crm.sqlite3'}", str(ROOT / "var" / "media")]
    env["CRM_DATA_DIR"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(tmp_path), f"sqlite:///{tmp_path / 'crm.sqlite3'}", str(tmp_path / "media")]


def test_pgbouncer_mode_turns_off_server_side_prepared_statements():
    code = "from crm.config import Config; print(Config.SQLALCHEMY_ENGINE_OPTIONS.get('connect_args'))"
    env = dict(os.environ, DATABASE_URL="postgres://u@h/d", DB_PGBOUNCER="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "{'prepare_threshold': None}"
    env["DB_PGBOUNCER"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "None"
