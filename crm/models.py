"""Every model, imported in one place so metadata (and Alembic) sees them all."""
from crm.customers.models import Customer, CustomerImport, CustomerTag, Tag  # noqa: F401
from crm.line_tab.models import LineFriend  # noqa: F401
from crm.shops.models import Shop  # noqa: F401
from crm.staff.models import Staff  # noqa: F401
from crm.line_platform.models import LineWebhookDelivery, LineWebhookEvent  # noqa: F401
from crm.line_tab.models import LineMessage, LineRead  # noqa: F401
from crm.line_tab.drafts import LineDraft  # noqa: F401
from crm.line_tab.scheduling import LineFailureAck  # noqa: F401
from crm.shops.models import LineChannel  # noqa: F401
from crm.linking.models import LinkRequest, SpentLinkToken  # noqa: F401
from crm.bookings.models import Booking, BookingSlot, BusinessHours, Closure, Service  # noqa: F401
from crm.digests.models import DigestRun, DigestSend, Notification, NotificationSettings, NotifyRichMenu  # noqa: F401
