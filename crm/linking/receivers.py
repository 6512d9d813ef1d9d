"""What linking does when the gateway announces a LINE event (crm/signals.py)."""
from typing import Any

from crm import signals
from crm.conversations.models import LineFriend, LineMessage
from crm.linking.notify import send_link_card, send_waiting_notice
from crm.linking.services import pending_request_for
from crm.linking.tokens import make_token
from crm.urls import external_url

CHECK_BOOKINGS = ["check_bookings"]  # the rich menu's 予約を確認する


@signals.postback_received.connect
def answer_unlinked_check_bookings(friend: LineFriend, data: dict[str, list[str]],
                                   **origin: Any) -> LineMessage | None:
    """予約を確認する from a friend not linked yet: 確認待ち while a request waits, else the linking card.

    Returns the queued message; ``origin`` (queue_messages' arguments) marks an automatic answer.
    """
    if data.get("action") != CHECK_BOOKINGS or friend.customer_id is not None:
        return None
    origin.pop("event", None)  # the signal's own keyword
    if pending_request_for(friend) is not None:
        # 確認待ち: the shop has not confirmed who this is, so no bookings and no new form.
        return send_waiting_notice(friend, **origin)
    return send_link_card(friend, link_form_url(friend), **origin)


def link_form_url(friend: LineFriend) -> str:
    """The address of the linking form for this friend (a fresh single-use token)."""
    return external_url("linking.form", token=make_token(friend))
