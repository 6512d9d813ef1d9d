"""Browser fixtures: the real app served from a thread, driven by Debian's Chromium.

The server thread cannot see the per-test rolled-back transaction of the `db`
fixture, so it runs on its own SQLite file, built by the migrations and seeded
with committed rows once per run (whatever TEST_DATABASE_URL says).
Playwright only drives the browser: it launches /usr/bin/chromium through
`executable_path` and never downloads one (no `playwright install`).
Everything under tests/browser is marked `browser`: `bin/test -m "not browser"` is the quick run.
"""
import os
from dataclasses import dataclass

import pytest
from flask_migrate import upgrade
from playwright.sync_api import sync_playwright

from crm import create_app
from crm.config import TestingConfig
from crm.extensions import db
from tests import factories
from tests.servers import ServerThread

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here + os.sep):
            item.add_marker(pytest.mark.browser)


@dataclass(frozen=True)
class SeededCustomer:
    id: int
    name: str
    phone: str
    friend_name: str | None = None


@dataclass(frozen=True)
class Seed:
    owner_email: str
    password: str
    unlinked: SeededCustomer
    linked: SeededCustomer
    other: SeededCustomer


@dataclass(frozen=True)
class LiveServer:
    url: str
    seed: Seed


def _seed():
    shop, owner = factories.make_shop(name="ブラウザテストサロン")
    unlinked = factories.make_customer(
        shop, family_name="佐藤", given_name="花子", family_name_kana="サトウ", given_name_kana="ハナコ",
        phone="090-1234-5678",
    )
    linked = factories.make_customer(
        shop, family_name="鈴木", given_name="一郎", family_name_kana="スズキ", given_name_kana="イチロウ",
        phone="080-9876-5432", email="ichiro.suzuki.a.rather.long.address@example.test",
        memo="カット＋カラー。次回は" + "ハイライト" * 20,
    )
    friend = factories.make_friend(shop, linked, display_name="いっちゃん🌸")
    other = factories.make_customer(
        shop, family_name="高橋", given_name="健", family_name_kana="タカハシ", given_name_kana="ケン",
        phone="070-1111-2222",
    )
    db.session.commit()
    return Seed(
        owner_email=owner.email,
        password=factories.PASSWORD,
        unlinked=SeededCustomer(unlinked.id, unlinked.full_name, unlinked.phone),
        linked=SeededCustomer(linked.id, linked.full_name, linked.phone, friend_name=friend.display_name),
        other=SeededCustomer(other.id, other.full_name, other.phone),
    )


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The app on 127.0.0.1 at a free port, on its own migrated and seeded SQLite file."""
    path = tmp_path_factory.mktemp("browser-db") / "browser.sqlite3"

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{path}"

    app = create_app(Config)
    with app.app_context():
        upgrade()
        seed = _seed()
        db.session.remove()

    server = ServerThread(app, name="browser-test-server", quiet=True).start()
    try:
        yield LiveServer(url=server.url, seed=seed)
    finally:
        server.stop()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the run."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run bin/test, or apt-get install chromium fonts-noto-cjk")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


# Every Content-Security-Policy violation is reported on the console: Chromium's own
# "Refused to ..." message, and this listener's (it also sees violations in frames and
# of directives Chromium reports quietly).
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")
                + " at " + e.sourceFile + ":" + e.lineNumber);
}, true);
"""


class PageProblems:
    """JavaScript errors, CSP violations, failed dialogs and server errors seen by one page."""

    def __init__(self, page):
        self.errors = []
        self.dialogs = []
        page.add_init_script(_REPORT_CSP_VIOLATIONS)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("dialog", self._dialog)

    def _console(self, message):
        text = message.text
        if "Content Security Policy" in text or text.startswith("CSP violation:"):
            self.errors.append(f"{message.type}: {text}")

    def _response(self, response):
        if response.status >= 500:
            self.errors.append(f"HTTP {response.status} from {response.url}")

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def _new_page(browser, live_server, **context_options):
    context = browser.new_context(
        base_url=live_server.url, locale="ja-JP", timezone_id="Asia/Tokyo", **context_options
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    return context, page, PageProblems(page)


def _finish(context, problems):
    context.close()
    assert not problems.errors, problems.errors


@pytest.fixture
def page(browser, live_server):
    """A page in a fresh browser context (no cookies), desktop-sized."""
    context, page, problems = _new_page(browser, live_server, viewport={"width": 1280, "height": 800})
    page.problems = problems
    yield page
    _finish(context, problems)


@pytest.fixture
def mobile_page(browser, live_server):
    """A page as a 375×740 phone shows it (the meta viewport applies)."""
    context, page, problems = _new_page(
        browser, live_server, viewport={"width": 375, "height": 740}, device_scale_factor=2,
        is_mobile=True, has_touch=True,
    )
    page.problems = problems
    yield page
    _finish(context, problems)


@pytest.fixture
def seed(live_server):
    return live_server.seed


@dataclass
class LineApp:
    """The app served from a thread, connected to a sandbox channel (and LINE Login channel)."""

    app: object
    url: str
    shop_id: int
    booking_key: str
    owner_email: str
    channel_id: str

    def run(self, fn):
        """Call fn() inside the app's context and commit; for seeding and checks."""
        with self.app.app_context():
            try:
                result = fn()
                db.session.commit()
                return result
            finally:
                db.session.remove()


@pytest.fixture
def line_app(tmp_path, line_sandbox):
    """A salon with the demo menu whose LINE channel, webhook and LINE Login are the sandbox's."""
    from crm.bookings.demo import seed_booking_demo
    from crm.line_platform.services import channel_for_shop, save_channel

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'line-app.sqlite3'}"
        LINE_API_BASE_URL = line_sandbox.url
        LINE_ACCESS_BASE_URL = line_sandbox.url
        MEDIA_STORAGE_DIR = str(tmp_path / "media")
        JOBS_MODE = "thread"  # as in the embedded default: requests answer, jobs run after

    app = create_app(Config)
    server = ServerThread(app, name="browser-line-app", quiet=True)  # bound now: the URL goes into the seed
    url = server.url
    app.config["PUBLIC_BASE_URL"] = url
    with app.app_context():
        upgrade()
        shop, owner = factories.make_shop(name="E2Eサロン")
        seed_booking_demo(shop, bookings=0)
        bot = line_sandbox.add_channel(bot_name="E2Eサロン")
        channel = channel_for_shop(shop.id)
        save_channel(channel, bot["channel_id"], bot["channel_secret"], bot["channel_access_token"])
        login = line_sandbox.add_login_channel(bot_channel_id=bot["channel_id"],
                                               callback_urls=[f"{url}/book/{shop.booking_key}/line/callback"])
        channel.login_channel_id, channel.login_channel_secret = login["channel_id"], login["channel_secret"]
        db.session.commit()
        line_sandbox.add_channel(channel_id=bot["channel_id"], channel_secret=bot["channel_secret"],
                                 channel_access_token=bot["channel_access_token"], bot_name="E2Eサロン",
                                 webhook_url=f"{url}/line/webhook/{channel.webhook_key}")
        served = LineApp(app, url, shop.id, shop.booking_key, owner.email, bot["channel_id"])
        db.session.remove()
    server.start()
    try:
        yield served
    finally:
        server.stop()
        with app.app_context():
            db.engine.dispose()


def sign_in(page, email, password=factories.PASSWORD):
    """Sign in through the login form."""
    page.goto("/login")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()


def htmx_settled(page):
    """Wait until HTMX has answered and bound what it swapped in (it binds new elements ~20 ms after the swap:
    a change made before that, e.g. a select in a fragment just drawn, would go unnoticed)."""
    from playwright.sync_api import expect

    expect(page.locator(".htmx-request, .htmx-added, .htmx-settling")).to_have_count(0)
