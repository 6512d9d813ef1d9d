"""The linking domain's user error."""
from crm.errors import UserError


class LinkError(UserError, ValueError):
    """A link the one-to-one rule forbids; the message is for the owner."""
