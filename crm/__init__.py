"""Application factory for the salon customer ledger.

The one module that imports every domain: it assembles them (blueprints, the
tabs and signal receivers they register) into an app.
"""
from flask import (
    Flask,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError

import crm.autoreply.responder  # noqa: F401  (signal receivers: あいさつ, キーワード応答, 時間外)
import crm.autoreply.views  # noqa: F401
import crm.bookings.receivers  # noqa: F401  (signal receivers)
import crm.bookings.tabs  # noqa: F401  (registers the 予約 tab)
import crm.bookings.views  # noqa: F401
import crm.broadcasts.views  # noqa: F401
import crm.conversations.friends  # noqa: F401  (signal receivers)
import crm.conversations.record  # noqa: F401  (the linked friend on every tab)
import crm.conversations.status  # noqa: F401  (signal receivers: 要対応 on a message, 対応済み on a reply)
import crm.customers.csv_views  # noqa: F401
import crm.customers.info_tab  # noqa: F401  (registers the 顧客情報 tab)
import crm.customers.tag_views  # noqa: F401
import crm.customers.views  # noqa: F401
import crm.digests.instant  # noqa: F401
import crm.digests.tasks  # noqa: F401  (signal receivers: the staff rich menus follow read state)
import crm.digests.views  # noqa: F401
import crm.line_platform.views  # noqa: F401
import crm.line_tab.compose_views  # noqa: F401  (images, stickers, ノート)
import crm.line_tab.drafts_views  # noqa: F401
import crm.line_tab.friends_views  # noqa: F401
import crm.line_tab.inbox_views  # noqa: F401
import crm.line_tab.nav  # noqa: F401  (template globals of the navigation)
import crm.line_tab.saved_replies_views  # noqa: F401
import crm.line_tab.scheduled_views  # noqa: F401
import crm.line_tab.state_views  # noqa: F401
import crm.line_tab.tabs  # noqa: F401  (registers the LINE tab)
import crm.line_tab.template_globals  # noqa: F401  (the partials' globals)
import crm.line_tab.views  # noqa: F401
import crm.linking.receivers  # noqa: F401  (signal receivers)
import crm.linking.views  # noqa: F401
import crm.models  # noqa: F401  (registers every table on the metadata)
import crm.staff.views  # noqa: F401
from crm import errors, formatting, ticker, transactions
from crm.assets import blueprint as assets_bp
from crm.autoreply import blueprint as autoreply_bp
from crm.bookings import blueprint as bookings_bp
from crm.broadcasts import blueprint as broadcasts_bp
from crm.commands import crm_cli
from crm.config import PACKAGE_DIR, config_from_env
from crm.customers import blueprint as customers_bp
from crm.digests import blueprint as digests_bp
from crm.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate
from crm.health import blueprint as health_bp
from crm.line_platform import blueprint as line_platform_bp
from crm.line_platform.ingress import WebhookIngress
from crm.line_tab import blueprint as line_tab_bp
from crm.linking import blueprint as linking_bp
from crm.observability import RequestIdMiddleware, configure_logging, proxy_fix
from crm.plans import gate as plan_gate
from crm.plans.views import blueprint as plans_bp
from crm.security import register_security
from crm.staff import blueprint as staff_bp
from crm.staff.services import load_user_from_session_id
from crm.startup import check_settings, prepare_data_dir


def create_app(config=None):
    """Build the Flask application from a config class (the environment's by default)."""
    config = config or config_from_env()
    # Templates and static files are the package's own (crm/templates, crm/static): an installed package has them.
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(config)
    check_settings(app.config)
    prepare_data_dir(app.config)
    configure_logging(app)
    register_extensions(app)
    transactions.init_app(app)  # first: its after_request runs last, once every other hook has had its say
    register_security(app)
    register_blueprints(app)
    register_middleware(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    ticker.init_ticker(app)
    return app


def _select_locale():
    if not has_request_context():
        return "ja"  # commands and jobs speak the product's language
    if current_user and current_user.is_authenticated and current_user.locale:
        return current_user.locale
    lang = session.get("lang")
    return lang if lang in ("ja", "en") else "ja"


def _select_timezone():
    if not has_request_context():
        return None
    if current_user and current_user.is_authenticated:
        return current_user.shop.timezone
    return None


def register_extensions(app):
    """Bind the unbound extensions of crm.extensions."""
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PACKAGE_DIR / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "staff.login"
    login_manager.login_message = None
    # "basic", not "strong": strong hashes the client's address into the session, so a phone
    # switching between Wi-Fi and 4G was signed out. Revocation is server-side (session_version).
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=_select_timezone)
    htmx.init_app(app)
    limiter.init_app(app)

    login_manager.user_loader(load_user_from_session_id)

    @login_manager.unauthorized_handler
    def _unauthorized():
        if htmx:
            # A full-page redirect instead of a sign-in form swapped into a fragment.
            response = app.response_class(status=401)
            response.headers["HX-Redirect"] = url_for("staff.login")
            return response
        return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))


def register_blueprints(app):
    """Attach every domain's blueprint (importing its views registers the routes)."""
    app.register_blueprint(assets_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(customers_bp)
    app.register_blueprint(line_platform_bp)
    app.register_blueprint(line_tab_bp)
    app.register_blueprint(linking_bp)
    app.register_blueprint(bookings_bp)
    app.register_blueprint(broadcasts_bp)
    app.register_blueprint(autoreply_bp)
    app.register_blueprint(digests_bp)
    app.register_blueprint(plans_bp)
    plan_gate.init_app(app)

    @app.get("/")
    def index():
        if current_user.is_authenticated:
            return redirect(url_for("customers.index"))
        return redirect(url_for("staff.login"))


def register_middleware(app):
    """WSGI layers in front of Flask: LINE's webhook is answered before the app's request machinery."""
    app.wsgi_app = WebhookIngress(app, app.wsgi_app)
    # Outside the webhook too, so its log lines carry the request id and it sees the client's address.
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app)
    app.wsgi_app = proxy_fix(app.config, app.wsgi_app)


def register_errorhandlers(app):
    """Render errors as pages, or as bare text for HTMX requests; UserError has its own handler."""
    errors.init_app(app)

    def render_error(error):
        code = getattr(error, "code", 500)
        if htmx:
            return render_template("errors/_message.html", code=code, error=error), code
        return render_template("errors/error.html", code=code, error=error), code

    for code in (400, 403, 404, 405, 413, 500):
        app.errorhandler(code)(render_error)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        app.logger.info("CSRF refused: %s", error.description)
        error.description = _("セッションの有効期限が切れたか、不正なリクエストです。ページを再読み込みしてやり直してください。")
        return render_error(error)

    @app.errorhandler(429)
    def too_many(error):
        if request.endpoint == "staff.login":
            flash(_("ログインの試行回数が多すぎます。しばらく待ってから再度お試しください。"), "error")
            return render_template("staff/login.html", form=None, throttled=True), 429
        return render_error(error)


def register_template_helpers(app):
    """Jinja filters and globals used by every template."""
    formatting.register(app)


def register_commands(app):
    """Operator commands under `flask crm ...`."""
    app.cli.add_command(crm_cli)
