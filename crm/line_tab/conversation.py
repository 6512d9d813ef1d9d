"""One friend's conversation, the same wherever it is shown: the customer's LINE tab or the friend's page.

Every action of the conversation is routed by friend (``/line/friends/<id>/...``; the
older ``/customers/<id>/line/...`` paths stay as aliases) and answers HTMX with the
conversation alone (target ``#line-conversation``), or the whole tabs for the old
target ``#customer-tabs``.  Linking the friend to a customer is one action among
the others, never a condition for answering.
"""
import uuid
from datetime import datetime, timezone
from typing import Any

from flask import abort, make_response, render_template, request
from flask_login import current_user

from crm.conversations import paging, read_state
from crm.conversations.friends import friend_of
from crm.conversations.models import LineFriend
from crm.conversations.search import latest_message_id, window_around
from crm.customers import tabs as customer_tabs
from crm.customers.models import Customer
from crm.customers.services import search_customers
from crm.database import get_for_shop_or_404
from crm.extensions import db, htmx
from crm.linking.forms import NewCustomerForm
from crm.shops.plans import require_line_tab
from crm.staff.forms import ConfirmForm

TARGET = "line-conversation"
TAB_TARGET = "customer-tabs"


def conversation_of(customer_id: int | None = None, friend_id: int | None = None) -> tuple[Customer | None, LineFriend]:
    """(customer or None, friend) of a route keyed by customer (linked) or by friend (any); 404 otherwise."""
    if friend_id is not None:
        friend = get_for_shop_or_404(LineFriend, friend_id)
        customer = db.session.get(Customer, friend.customer_id) if friend.customer_id else None
        return customer, friend
    customer = get_for_shop_or_404(Customer, customer_id)
    friend = friend_of(customer)
    if friend is None:
        abort(404)
    return customer, friend


def conversation_fields(friend: LineFriend, mark_read: bool = True, client_key: str | None = None) -> dict[str, Any]:
    """What the conversation partials need: the newest page, the poll cursor, a composition key."""
    require_line_tab()
    if mark_read:
        read_state.mark_read(friend, current_user)  # opening the conversation reads it
    at = request.args.get("at", type=int)
    window = window_around(friend, at) if at else None  # a search hit: the page around it
    page = window or paging.page(friend)
    poll_after = latest_message_id(friend) if window else paging.latest_id(page.messages)
    return dict(messages=page.messages, page=page, poll_after=poll_after, focus_id=window and window.focus_id,
                poll_since=datetime.now(timezone.utc).isoformat(), client_key=client_key or uuid.uuid4().hex)


def friend_page_context(friend: LineFriend, customer: Customer | None) -> dict[str, Any]:
    """The friend's page adds the 顧客と連携 tools (search by ?q=) for a friend without a customer."""
    query = request.args.get("q", "").strip()
    candidates = search_customers(friend.shop_id, query, per_page=10).items if query and customer is None else []
    return dict(query=query, candidates=candidates, new_form=NewCustomerForm(), confirm_form=ConfirmForm())


def render_conversation(customer: Customer | None, friend: LineFriend, status: int = 200,
                        mark_read: bool = True, **extra: Any):
    """The conversation after an action: alone for HTMX, the tabs for #customer-tabs, else the whole page."""
    if customer is not None and (not htmx or htmx.target == TAB_TARGET):
        context = customer_tabs.page_context(customer, "line", mark_read=mark_read, **extra)
        template = "customers/_tabs.html" if htmx else "customers/show.html"
    else:
        context = dict(extra, friend=friend, customer=customer)
        context.update(conversation_fields(friend, mark_read, extra.get("client_key")))
        if htmx:
            template = "line_tab/_conversation.html"
        else:
            template = "line_tab/friend.html"
            context.update(friend_page_context(friend, customer))
    # Reading the conversation is committed by the request, after rendering.
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def wants_conversation() -> bool:
    """An HTMX request made from inside a conversation (either container)."""
    return bool(htmx) and htmx.target in (TARGET, TAB_TARGET)
