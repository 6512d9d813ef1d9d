"""The LINE tab of a customer's record: the friend's conversation (crm/line_tab/conversation.py), for premium shops."""
from typing import Any

from flask_login import current_user

from crm.conversations.models import LineFriend
from crm.customers import tabs
from crm.customers.models import Customer
from crm.line_tab.conversation import conversation_fields
from crm.shops.plans import line_tab_available


def _conversation(customer: Customer, context: dict[str, Any]) -> dict[str, Any]:
    if not line_tab_available(current_user.shop):
        return {"premium_required": True}  # the record and its tabs, and what premium adds: no LINE content
    return conversation_fields(context["friend"], context.get("mark_read", True), context.get("client_key"))


tabs.register(tabs.CustomerTab(
    key="line", label=lambda: "LINE", order=20, template="line_tab/_customer_tab.html",
    shown=lambda customer, context: context.get("friend") is not None, context=_conversation,
))


def line_tab_context(customer: Customer, friend: LineFriend, mark_read: bool = True, **extra: Any) -> dict[str, Any]:
    """What customers/_tabs.html needs to show the LINE tab; opening it reads the conversation."""
    return tabs.page_context(customer, "line", mark_read=mark_read, **extra)
