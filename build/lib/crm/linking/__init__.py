"""Linking LINE friends to customer records: matching, link requests, owner review, merges."""
from flask import Blueprint

blueprint = Blueprint("linking", __name__)
