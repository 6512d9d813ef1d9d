"""What bookings does when the gateway announces a LINE event (crm/signals.py)."""
from typing import Any

from crm import signals
from crm.bookings.texts import upcoming_message
from crm.conversations.models import LineFriend, LineMessage
from crm.customers.models import Customer
from crm.extensions import db
from crm.line_platform.sending import queue_text

CHECK_BOOKINGS = ["check_bookings"]  # the rich menu's 予約を確認する


@signals.postback_received.connect
def answer_check_bookings(friend: LineFriend, data: dict[str, list[str]], **origin: Any) -> LineMessage | None:
    """予約を確認する from a linked friend: their upcoming bookings (unlinked friends: see linking).

    Returns the queued message; ``origin`` (queue_messages' arguments) marks an automatic answer.
    """
    if data.get("action") != CHECK_BOOKINGS or friend.customer_id is None:
        return None
    origin.pop("event", None)  # the signal's own keyword
    return queue_text(friend, upcoming_message(db.session.get(Customer, friend.customer_id)), **origin)
