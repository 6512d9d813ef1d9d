"""The LINE tab of a customer's record: the conversation, for premium shops."""
import uuid
from datetime import datetime, timezone
from typing import Any

from flask import request
from flask_login import current_user

from crm.conversations import paging, read_state
from crm.conversations.models import LineFriend
from crm.conversations.search import latest_message_id, window_around
from crm.customers import tabs
from crm.customers.models import Customer
from crm.shops.plans import require_line_tab


def _conversation(customer: Customer, context: dict[str, Any]) -> dict[str, Any]:
    require_line_tab()
    friend = context["friend"]
    if context.get("mark_read", True):
        read_state.mark_read(friend, current_user)  # opening the tab reads the conversation
    at = request.args.get("at", type=int)
    window = window_around(friend, at) if at else None  # a search hit: the page around it
    page = window or paging.page(friend)
    poll_after = latest_message_id(friend) if window else paging.latest_id(page.messages)
    return dict(messages=page.messages, page=page, poll_after=poll_after, focus_id=window and window.focus_id,
                poll_since=datetime.now(timezone.utc).isoformat(),
                client_key=context.get("client_key") or uuid.uuid4().hex)


tabs.register(tabs.CustomerTab(
    key="line", label=lambda: "LINE", order=20, template="line_tab/_customer_tab.html",
    shown=lambda customer, context: context.get("friend") is not None, context=_conversation,
))


def line_tab_context(customer: Customer, friend: LineFriend, mark_read: bool = True, **extra: Any) -> dict[str, Any]:
    """What customers/_tabs.html needs to show the LINE tab; opening it reads the conversation."""
    return tabs.page_context(customer, "line", mark_read=mark_read, **extra)
