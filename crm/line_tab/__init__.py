"""The LINE tab of the customer ledger."""
from flask import Blueprint

blueprint = Blueprint("line_tab", __name__)
