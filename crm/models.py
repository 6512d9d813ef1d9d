"""Every model, imported in one place so metadata (and Alembic) sees them all."""
from crm.autoreply.models import (  # noqa: F401
    AutoReplyClosure,
    AutoReplyFire,
    AutoReplyHours,
    AutoReplySettings,
    BookingReminder,
    KeywordRule,
)
from crm.bookings.models import (  # noqa: F401
    Booking,
    BookingSlot,
    BusinessHours,
    Closure,
    Service,
)
from crm.broadcasts.models import (  # noqa: F401
    Broadcast,
    BroadcastBatch,
    BroadcastRecipient,
    Segment,
)
from crm.conversations.models import (  # noqa: F401
    LineFriend,  # noqa: F401
    LineMessage,
    LineRead,
)
from crm.customers.models import (  # noqa: F401
    Customer,
    CustomerImport,
    CustomerTag,
    Tag,
)
from crm.digests.models import (  # noqa: F401
    DigestRun,
    DigestSend,
    InstantNotice,
    Notification,
    NotificationSettings,
    NotifyRichMenu,
)
from crm.line_platform.models import LineWebhookDelivery, LineWebhookEvent  # noqa: F401
from crm.line_tab.models import LineDraft, LineFailureAck  # noqa: F401
from crm.line_tab.saved_replies import SavedReply  # noqa: F401
from crm.linking.models import LinkRequest, SpentLinkToken  # noqa: F401
from crm.shops.models import (
    LineChannel,  # noqa: F401
    Shop,  # noqa: F401
)
from crm.staff.models import Staff  # noqa: F401
