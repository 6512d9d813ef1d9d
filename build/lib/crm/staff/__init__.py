"""Sign-in and the shop's staff accounts."""
from flask import Blueprint

blueprint = Blueprint("staff", __name__)
