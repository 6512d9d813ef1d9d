"""Online booking: the shop's menu and business hours, the public booking page, the owner's lists."""
from flask import Blueprint

blueprint = Blueprint("bookings", __name__)

from crm.bookings.formatting import register as _register_filters  # noqa: E402

blueprint.record_once(_register_filters)
