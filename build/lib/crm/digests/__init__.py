"""Daily digests of unread LINE messages (08:00 and 20:00 in the shop's timezone).

Channels: an in-app notification list, email (SMTP) and LINE, to the staff
member's own LINE account through the installation's notification channel,
whose per-user rich menu also shows when the shop has unread messages.
"""
from flask import Blueprint

blueprint = Blueprint("digests", __name__)
