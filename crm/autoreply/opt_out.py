"""The 「配信停止」 keyword, built in: a customer stops 一斉配信 by sending it.

Tried before the shop's own キーワード応答 and 時間外, so the customer gets one
answer: the confirmation. It works whether or not the shop set up automatic
responses, and on every plan (stopping broadcasts is the customer's right, not
a premium feature). Like every automatic answer it is one autoreply_fires row
per LINE event, replied with the event's own token.
"""
import unicodedata
from typing import Any

from flask_babel import gettext as _

from crm.autoreply.messages import text_message
from crm.autoreply.models import AutoReplyFire, FireKind
from crm.conversations.models import LineFriend, LineMessage, Origin
from crm.customers.models import Customer
from crm.customers.services import set_opt_out
from crm.database import insert_ignoring
from crm.extensions import db
from crm.line_platform.sending import EventReply, queue_messages

OPT_OUT_KEYWORD = "配信停止"


def is_opt_out(text: str | None) -> bool:
    """True for 「配信停止」 however it was typed (full/half width, surrounding spaces)."""
    return unicodedata.normalize("NFKC", text or "").strip() == OPT_OUT_KEYWORD


def answer_opt_out(friend: LineFriend, event: Any) -> LineMessage | None:
    """Set 配信停止 on the linked customer and confirm it, once per event."""
    if friend.customer_id is not None:
        customer = db.session.get(Customer, friend.customer_id)
        if customer is not None and not customer.broadcast_opt_out:
            set_opt_out(customer, True)
    token = (event.payload or {}).get("replyToken") if event is not None else None
    if event is None or event.mode != "active" or not token or not event.webhook_event_id:
        return None  # nothing to answer with (standby, or no event): the flag is set all the same
    fire_id = db.session.scalar(
        insert_ignoring(AutoReplyFire.__table__, ["shop_id", "webhook_event_id"]).values(
            shop_id=friend.shop_id, friend_id=friend.id, webhook_event_id=event.webhook_event_id,
            kind=FireKind.OPT_OUT.value, fired_at=event.occurred_at, reply_token=token, refollow=False,
        ).returning(AutoReplyFire.id))
    if fire_id is None:
        return None  # a redelivered event, or a second run: answered already
    text = _("配信停止を受け付けました。今後、一斉配信のメッセージはお送りしません。"
             "個別のご連絡（ご予約の確認など）は引き続きお送りします。")
    return queue_messages(friend, [text_message(text)], origin=Origin.AUTO.value, origin_id=None,
                          origin_label=_("配信停止"), reply=EventReply(token, event.occurred_at, push_when_late=True))
