"""Automatic responses: あいさつメッセージ, 応答時間 and 時間外, キーワード応答, booking reminders.

The gateway announces follows and messages (crm/signals.py); responder.py
answers with the event's own reply token, at most once per event (a unique
row per event in autoreply_fires, inserted before anything is queued).
Reminders are pushed by the tick (reminders.py), one unique row per booking.
"""
from flask import Blueprint

blueprint = Blueprint("autoreply", __name__, url_prefix="/settings/autoreply")
