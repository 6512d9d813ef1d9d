"""The LINE tab of the customer ledger.

Every route of this blueprint is premium only: crm/plans/gate.py gates the
whole blueprint (sign-in first, then the plan).
"""
from flask import Blueprint

blueprint = Blueprint("line_tab", __name__)
