"""Sign-in and the shop's staff accounts."""
from flask import Blueprint

blueprint = Blueprint("staff", __name__)

from crm.staff import views  # noqa: E402,F401
