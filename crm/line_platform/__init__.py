"""The LINE platform gateway: channel settings, webhook ingestion, sending."""
from flask import Blueprint

blueprint = Blueprint("line_platform", __name__)
