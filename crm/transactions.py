"""One commit per request, as indico's request handler does: views change rows, this hook ends the transaction.

After the view (and any error handler) has made the response, and before it is
sent, a successful response (status below 400, redirects included) commits with
`jobs.commit()`, which also enqueues the jobs the request queued; an error
response rolls back and forgets them.  Views never commit: a request is all or
nothing.  Streaming responses (the exports) only read while they stream.

Commands and jobs are not requests: they keep their own commits
(`jobs.run_job` commits each job once; sending keeps its claim -> commit -> call
LINE -> record steps).  LINE's webhook is answered by WSGI middleware before
Flask (crm/line_platform/ingress.py), so this hook never sees it; the
ingress commits the kept delivery itself, before it answers 200.
"""
import logging

from flask import g

from crm import jobs

log = logging.getLogger(__name__)


def discard() -> None:
    """Roll this request back even though it answers successfully (e.g. a form shown again with its errors)."""
    g.crm_discard = True


def _end_transaction(response):
    if response.status_code < 400 and not g.get("crm_discard"):
        # An exception here (a constraint at COMMIT) turns into a 500, and this
        # hook then runs again for that response and rolls back.
        jobs.commit()
    else:
        jobs.rollback()
    return response


def _roll_back_after_error(exc):
    if exc is not None:  # an error no handler answered: nothing of it may stay
        jobs.rollback()


def init_app(app) -> None:
    """Register the hooks on the app (in the factory, before any blueprint's own hooks)."""
    app.after_request(_end_transaction)
    app.teardown_request(_roll_back_after_error)
