"""The 予約 tab of a customer's record."""
from flask_babel import lazy_gettext as _l

from crm.bookings.lists import customer_bookings
from crm.customers import tabs

tabs.register(tabs.CustomerTab(
    key="bookings", label=lambda: str(_l("予約")), order=30, template="bookings/_customer_tab.html",
    context=lambda customer, context: {"bookings": customer_bookings(customer)},
))
