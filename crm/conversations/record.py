"""What every tab of a customer's record knows of LINE: the linked friend."""
from typing import Any

from crm.conversations.friends import friend_of
from crm.customers import tabs
from crm.customers.models import Customer


@tabs.shared_context
def _linked_friend(customer: Customer) -> dict[str, Any]:
    return {"friend": friend_of(customer)}
