"""One commit per request (crm/transactions.py) and the one UserError handler (crm/errors.py)."""
import ast
from pathlib import Path

import pytest
from flask import Blueprint, redirect, request

import crm
from crm import create_app, jobs
from crm.errors import UserError
from crm.extensions import csrf
from crm.extensions import db as _db
from crm.shops.models import Shop
from tests import factories

CRM = Path(crm.__file__).parent
ROUTE_DECORATORS = {"route", "get", "post", "put", "patch", "delete", "errorhandler"}


def recorded_job(value):
    """Job: remembers that it ran."""
    recorded_job.calls.append(value)


recorded_job.calls = []

probe = Blueprint("tx_probe", __name__)
csrf.exempt(probe)


@probe.post("/tx-probe/<outcome>")
def change_then(outcome):
    """Renames the shop and queues a job, then answers as `outcome` says."""
    shop = _db.session.get(Shop, int(request.form["shop"]))
    shop.name = f"renamed {outcome}"
    jobs.enqueue_after_commit(recorded_job, outcome)
    if outcome == "exception":
        raise RuntimeError("boom")
    if outcome == "user-error":
        raise UserError("やり直してください。")
    if outcome == "error-status":
        return "refused", 409
    if outcome == "redirect":
        return redirect("/")
    return "ok"


@pytest.fixture(scope="module")
def probe_app(app):
    config = type("ProbeConfig", (), {k: v for k, v in app.config.items() if k.isupper()})
    config.PROPAGATE_EXCEPTIONS = False  # as in production: an exception becomes a 500 answer
    fresh = create_app(config)
    fresh.register_blueprint(probe)
    return fresh


@pytest.mark.parametrize("outcome, status, kept", [
    ("ok", 200, True), ("redirect", 302, True),
    ("exception", 500, False), ("error-status", 409, False), ("user-error", 302, False),
])
def test_a_request_commits_on_success_and_rolls_back_on_error(probe_app, db, outcome, status, kept):
    shop, _owner = factories.make_shop(name="before")
    jobs.commit()
    recorded_job.calls.clear()
    response = probe_app.test_client().post(f"/tx-probe/{outcome}", data={"shop": shop.id})
    assert response.status_code == status
    db.session.expire_all()
    assert (db.session.get(Shop, shop.id).name == f"renamed {outcome}") is kept
    assert recorded_job.calls == ([outcome] if kept else [])  # the queued job runs only after the commit


def test_an_htmx_request_gets_the_user_error_as_a_422_fragment(probe_app, db):
    shop, _owner = factories.make_shop(name="before")
    jobs.commit()
    response = probe_app.test_client().post("/tx-probe/user-error", data={"shop": shop.id},
                                            headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "やり直してください。" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Shop, shop.id).name == "before"


def _modules():
    for path in sorted(CRM.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path, ast.parse(path.read_text())


def _is_view_module(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Attribute) and target.attr in ROUTE_DECORATORS:
                    return True
    return False


def test_no_view_module_commits_or_rolls_back():
    """Views change rows; crm/transactions.py ends the request's transaction."""
    views = [(path, tree) for path, tree in _modules() if _is_view_module(tree)]
    assert len(views) >= 12  # the walk finds the view modules (a rename must not empty it)
    calls = [
        f"{path.relative_to(CRM.parent)}:{node.lineno}"
        for path, tree in views for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("commit", "rollback")
    ]
    assert calls == []


def test_only_crm_jobs_touches_the_session_info():
    touching = {
        str(path.relative_to(CRM.parent))
        for path, tree in _modules() for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "info"
        and isinstance(node.value, ast.Attribute | ast.Name)
        and (getattr(node.value, "attr", None) or getattr(node.value, "id", None)) == "session"
    }
    assert touching <= {"crm/jobs.py"}
