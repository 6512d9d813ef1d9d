"""The LINE tab of the customer ledger."""
from flask import Blueprint

blueprint = Blueprint("line_tab", __name__)


@blueprint.before_request
def _premium_only():
    """Every LINE-tab route, fragment, action and export: premium (or a running trial) only."""
    from flask_login import login_required

    from crm.plans import require_line_tab

    # Authentication first (a signed-out visitor is sent to sign in), then the plan.
    unauthorized = login_required(lambda: None)()
    if unauthorized is not None:
        return unauthorized
    require_line_tab()
    return None
