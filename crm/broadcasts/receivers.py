"""The 「配信停止」 keyword: a customer stops broadcasts by sending it (NFKC-normalised exact text).

A listener on crm.signals.message_received, in this package until the keyword
rules of crm/autoreply/ can hold it.  The message is stored once per LINE
event (webhookEventId), so the confirmation is answered once per message; it is
a reply when the fresh reply token allows (free), else a push.
"""
import unicodedata
from typing import Any

from flask_babel import gettext as _

from crm import signals
from crm.conversations.models import LineFriend, LineMessage
from crm.customers.models import Customer
from crm.database import utcnow
from crm.extensions import db
from crm.line_platform.sending import queue_text

OPT_OUT_KEYWORD = "配信停止"


def is_opt_out(text: str | None) -> bool:
    """True for 「配信停止」 however it was typed (full/half width, surrounding spaces)."""
    return unicodedata.normalize("NFKC", text or "").strip() == OPT_OUT_KEYWORD


@signals.message_received.connect
def opt_out_by_keyword(friend: LineFriend, message: LineMessage, **_kwargs: Any) -> None:
    """Set 配信停止 on the linked customer and confirm it."""
    if message.message_type != "text" or not is_opt_out(message.text):
        return
    if friend.customer_id is not None:
        customer = db.session.get(Customer, friend.customer_id)
        if customer is not None and not customer.broadcast_opt_out:
            customer.broadcast_opt_out, customer.broadcast_opt_out_at = True, utcnow()
    queue_text(friend, _("配信停止を受け付けました。今後、一斉配信のメッセージはお送りしません。"
                         "個別のご連絡（ご予約の確認など）は引き続きお送りします。"))
    db.session.flush()
