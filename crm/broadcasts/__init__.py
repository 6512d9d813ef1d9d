"""一斉配信 and セグメント配信: segments of the ledger, the composer, quota, delivery, history.

Every route of this blueprint is premium only (crm/plans/gate.py gates it).
"""
from flask import Blueprint

blueprint = Blueprint("broadcasts", __name__, url_prefix="/broadcasts")
