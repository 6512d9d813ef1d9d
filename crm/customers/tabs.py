"""The tabs of a customer's record, registered by the domains that own them.

The ledger knows only 顧客情報; the LINE tab and 予約 register themselves
(crm/line_tab/tabs.py, crm/bookings/tabs.py), so this package imports neither.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort

from crm.customers.models import Customer

Context = dict[str, Any]


@dataclass(frozen=True)
class CustomerTab:
    """One tab: its URL key, label, order, template and what it adds to the page context."""

    key: str
    label: Callable[[], str]
    order: int
    template: str
    #: Whether the tab is shown for this customer, given the shared context.
    shown: Callable[[Customer, Context], bool] = lambda customer, context: True
    #: What the tab's template needs; may raise (a 403 for a plan without the tab).
    context: Callable[[Customer, Context], Context] = lambda customer, context: {}


_tabs: dict[str, CustomerTab] = {}
_shared: list[Callable[[Customer], Context]] = []


def register(tab: CustomerTab) -> CustomerTab:
    """Add a tab (a domain calls this when it is imported)."""
    _tabs[tab.key] = tab
    return tab


def shared_context(provider: Callable[[Customer], Context]) -> Callable[[Customer], Context]:
    """Register what every tab of the record may show (e.g. the linked LINE friend)."""
    _shared.append(provider)
    return provider


def get(key: str) -> CustomerTab | None:
    """The tab with that key, or None."""
    return _tabs.get(key)


def base_context(customer: Customer) -> Context:
    """The context every tab gets, from the registered providers."""
    context: Context = {}
    for provider in _shared:
        context.update(provider(customer))
    return context


def shown_tabs(customer: Customer, context: Context) -> list[CustomerTab]:
    """The tabs shown for this customer, in order."""
    return sorted((t for t in _tabs.values() if t.shown(customer, context)), key=lambda t: t.order)


def page_context(customer: Customer, key: str, **extra: Any) -> Context:
    """Everything customers/_tabs.html needs to show one tab of the record (404 for a hidden tab)."""
    context = base_context(customer)
    tab = _tabs.get(key)
    if tab is None or not tab.shown(customer, context):
        abort(404)
    context.update(extra)
    context.update(tab.context(customer, context))
    context.update(customer=customer, tab=key, tab_template=tab.template,
                   tabs=shown_tabs(customer, context))
    return context
