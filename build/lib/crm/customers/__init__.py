"""The customer ledger (顧客台帳)."""
from flask import Blueprint

blueprint = Blueprint("customers", __name__, url_prefix="/customers")
