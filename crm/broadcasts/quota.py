"""Quota first: the month's message quota and what is used, from LINE, before anything is sent.

LINE counts each recipient of a push or multicast once (replies are free).
A broadcast costs its reachable recipients; broadcasts of the shop still being
sent are counted too, since LINE has not counted all of them yet.
"""
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from linebot.v3.messaging import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from crm.broadcasts.models import Broadcast, BroadcastRecipient, BroadcastStatus, RecipientStatus
from crm.errors import UserError
from crm.extensions import db
from crm.line_platform.channels import line_error_reason
from crm.line_platform.client import line_apis
from crm.shops.models import LineChannel


class QuotaExceeded(UserError, ValueError):
    """This broadcast would go over the month's quota; the text says by how much."""


class QuotaUnavailable(UserError, ValueError):
    """LINE did not say what the quota is (the channel is not set up, or LINE did not answer)."""


@dataclass(frozen=True)
class Quota:
    limited: bool
    value: int | None  # the month's quota (None: unlimited)
    used: int  # LINE's count this month
    in_flight: int  # recipients of this shop's broadcasts still being sent

    @property
    def remaining(self) -> int | None:
        if not self.limited:
            return None
        if self.value is None:  # fetch never builds one: a limited quota has its value
            raise ValueError("a limited quota needs its value")
        return max(0, self.value - self.used - self.in_flight)

    def shortfall(self, cost: int) -> int:
        """By how many messages `cost` would exceed the quota (0: it fits)."""
        return 0 if self.remaining is None else max(0, cost - self.remaining)


def _channel(shop_id: int) -> LineChannel:
    channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == shop_id)).first()
    if channel is None or not channel.configured:
        raise QuotaUnavailable(_("LINEチャネルが設定されていません。LINE設定を確認してください。"))
    return channel


def in_flight(shop_id: int, exclude_id: int | None = None) -> int:
    """Recipients not yet sent of the shop's running broadcasts."""
    stmt = (sa.select(sa.func.count()).select_from(BroadcastRecipient)
            .join(Broadcast, Broadcast.id == BroadcastRecipient.broadcast_id)
            .where(Broadcast.shop_id == shop_id, Broadcast.status == BroadcastStatus.SENDING,
                   BroadcastRecipient.status == RecipientStatus.PENDING))
    if exclude_id is not None:
        stmt = stmt.where(Broadcast.id != exclude_id)
    return int(db.session.scalar(stmt) or 0)


def fetch(shop_id: int, exclude_id: int | None = None) -> Quota:
    """The month's quota and consumption from LINE's API (get_message_quota, ..._consumption)."""
    channel = _channel(shop_id)
    try:
        with line_apis(channel.channel_access_token) as apis:
            quota = apis.messaging.get_message_quota()
            used = apis.messaging.get_message_quota_consumption()
    except ApiException as exc:
        raise QuotaUnavailable(_("LINEから配信数の上限を取得できませんでした: %(reason)s",
                                 reason=line_error_reason(exc))) from None
    except (Urllib3Error, OSError) as exc:
        raise QuotaUnavailable(_("LINEに接続できませんでした: %(reason)s", reason=str(exc))) from None
    limited = str(getattr(quota.type, "value", quota.type)) == "limited"
    if limited and quota.value is None:  # LINE's API always gives a limited quota's value; refuse rather than guess
        raise QuotaUnavailable(_("LINEから配信数の上限を取得できませんでした: %(reason)s", reason="type=limited, value=null"))
    return Quota(limited, quota.value if limited else None, int(used.total_usage or 0), in_flight(shop_id, exclude_id))


def check(quota: Quota, cost: int) -> None:
    """Refuse a broadcast of `cost` messages that the quota cannot take, saying by how much."""
    over = quota.shortfall(cost)
    if over:
        raise QuotaExceeded(_("今月の配信上限を%(over)d通超えるため送信できません（上限 %(value)d通、使用済み %(used)d通、"
                              "この配信 %(cost)d通）。", over=over, value=quota.value, used=quota.used + quota.in_flight,
                              cost=cost))
