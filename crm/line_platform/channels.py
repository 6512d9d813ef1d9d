"""A shop's LINE channel: calling LINE with it, and checking it after the owner saves it."""
import logging
from dataclasses import dataclass, field

from flask_babel import gettext as _
from linebot.v3.messaging import (
    ApiException,
    SetWebhookEndpointRequest,
    TestWebhookEndpointRequest,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from crm.database import utcnow
from crm.line_platform.client import line_apis
from crm.shops.models import LineChannelStatus
from crm.urls import external_url

log = logging.getLogger(__name__)


def line_error_reason(exc):
    """LINE's own words for a failed call: its message and details."""
    import json

    if isinstance(exc, ApiException):
        try:
            body = json.loads(exc.body or "{}")
        except (TypeError, ValueError):
            body = {}
        reason = body.get("message") or exc.reason or ""
        details = "; ".join(
            f"{d.get('property', '')}: {d.get('message', '')}".strip(": ") for d in body.get("details") or []
        )
        return f"{exc.status} {reason}" + (f" ({details})" if details else "")
    return f"{type(exc).__name__}: {exc}"


def mark_misconfigured(channel, reason):
    """LINE refused the token: the owner must fix the channel settings."""
    channel.status = LineChannelStatus.MISCONFIGURED
    channel.status_detail = reason
    channel.checked_at = utcnow()


def webhook_url(channel):
    """The URL LINE posts this shop's events to."""
    return external_url("line_platform.webhook", key=channel.webhook_key)


@dataclass
class CheckResult:
    token_ok: bool = False
    bot_name: str = ""
    chat_mode: str | None = None
    webhook_set: bool = False
    webhook_test: str = ""
    webhook_test_ok: bool = False
    quota: str = ""
    consumption: int | None = None
    problems: list = field(default_factory=list)


def check_channel(channel):
    """Verify the token, set and test the webhook, read the quota; record the outcome."""
    result = CheckResult()
    try:
        with line_apis(channel.channel_access_token) as apis:
            info = apis.messaging.get_bot_info()
            result.token_ok = True
            result.bot_name = info.display_name
            result.chat_mode = info.chat_mode
            channel.bot_user_id = info.user_id
            channel.bot_display_name = info.display_name
            channel.bot_basic_id = info.basic_id
            channel.chat_mode = info.chat_mode
            if info.chat_mode == "chat":
                result.problems.append(_("LINE公式アカウントのチャット機能がONになっています。LINE公式アカウントの管理画面の「設定」→「応答設定」でチャット機能をOFFにしてください（LINEタブの利用に必要です）。"))
            url = webhook_url(channel)
            apis.messaging.set_webhook_endpoint(SetWebhookEndpointRequest(endpoint=url))
            result.webhook_set = True
            test = apis.messaging.test_webhook_endpoint(TestWebhookEndpointRequest(endpoint=url))
            result.webhook_test_ok = bool(test.success)
            result.webhook_test = f"{test.status_code} {test.reason}".strip()
            if not test.success:
                result.problems.append(_("Webhookのテストに失敗しました: %(reason)s", reason=result.webhook_test))
            quota = apis.messaging.get_message_quota()
            result.quota = str(quota.value) if quota.type == "limited" else _("上限なし")
            result.consumption = apis.messaging.get_message_quota_consumption().total_usage
    except ApiException as exc:
        reason = line_error_reason(exc)
        if exc.status == 401:
            result.problems.append(_("チャネルアクセストークンが無効です。"))
            mark_misconfigured(channel, reason)
            return result
        result.problems.append(_("LINEとの通信でエラーが発生しました: %(reason)s", reason=reason))
    except (Urllib3Error, OSError) as exc:
        result.problems.append(_("LINEに接続できませんでした: %(reason)s", reason=str(exc)))
    channel.checked_at = utcnow()
    if result.token_ok and result.webhook_set:
        channel.status = LineChannelStatus.OK
        channel.status_detail = "\n".join(result.problems)
    else:
        channel.status = LineChannelStatus.MISCONFIGURED
        channel.status_detail = "\n".join(result.problems)
    return result


def mark_connected(channel) -> None:
    """A channel whose webhook is known to be set (the demo registers it in the sandbox): read the bot, record 接続済み.

    Raises ApiException when LINE refuses the token, so nothing says 接続済み for a channel that does not work.
    """
    with line_apis(channel.channel_access_token) as apis:
        info = apis.messaging.get_bot_info()
    channel.bot_user_id = info.user_id
    channel.bot_display_name = info.display_name
    channel.bot_basic_id = info.basic_id
    channel.chat_mode = info.chat_mode
    channel.checked_at = utcnow()
    channel.status = LineChannelStatus.OK
    channel.status_detail = ""
