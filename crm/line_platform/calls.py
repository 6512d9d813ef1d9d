"""Calling LINE for a claimed message: reply when a token was claimed, else push with the retry key.

No database access here (a batch calls from several threads): what a call
needs is in its Plan, what it learnt goes back as an Outcome.

A reply carries no retry key, so a reply whose outcome is unknown (a timeout,
a connection broken after the request went out, a 5xx) is never followed by an
automatic push: the message becomes 送信状況を確認できません and staff decide
whether to 再送. Only a definite refusal (a 4xx such as 400 "Invalid reply
token", or a connection that was never made) falls back to push.
"""
import logging
import threading
import time
from contextlib import nullcontext

from flask import current_app
from flask_babel import gettext as _
from linebot.v3.messaging import ApiException, PushMessageRequest, ReplyMessageRequest
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from crm.conversations.models import SendStatus
from crm.line_platform.channels import line_error_reason
from crm.line_platform.claims import Outcome
from crm.line_platform.client import line_apis
from crm.line_platform.line_errors import is_transient, never_sent, request_id

log = logging.getLogger(__name__)

_sleep = time.sleep  # tenacity's wait between push attempts (a test moves a frozen clock instead)


def unconfirmed(plan, attempts, reason):
    log.warning("reply for message %s may or may not have reached LINE (%s); not pushing", plan.message_id, reason)
    return Outcome(SendStatus.UNCONFIRMED, "reply", attempts, reason)


def call_line(plan, apis=None, renew=None):
    """Reply if a token was claimed, else push with the retry key and retries. No database access.

    ``apis``: an open client for the plan's token (a batch reuses one per thread); else one is opened.
    ``renew``: called before each push attempt to keep the claim's lease (it may use the database).
    """
    attempts = 0
    if plan.reply_token:
        attempts += 1
        try:
            with open_apis(plan, apis) as apis:
                response = apis.messaging.reply_message_with_http_info(
                    ReplyMessageRequest.from_dict({"replyToken": plan.reply_token, "messages": plan.messages})
                )
            return Outcome(SendStatus.SENT, "reply", attempts, request_id=request_id(response.headers))
        except ApiException as exc:
            if exc.status == 401:
                return Outcome(SendStatus.FAILED, "reply", attempts, line_error_reason(exc), unauthorized=True)
            if not exc.status or exc.status >= 500:  # no answer, or LINE failed while handling it
                return unconfirmed(plan, attempts, line_error_reason(exc))
            # A 4xx (400 "Invalid reply token"): LINE refused it, nothing was delivered.
            if plan.reply_only:  # an automatic answer too late is worse than none; pushes cost quota
                return Outcome(SendStatus.FAILED, "reply", attempts,
                               _("応答トークンが受け付けられませんでした（%(reason)s）。自動応答は送信しませんでした。",
                                 reason=line_error_reason(exc)))
            log.info("reply for message %s refused (%s); pushing instead", plan.message_id, line_error_reason(exc))
        except (Urllib3Error, OSError) as exc:
            if not never_sent(exc):  # a timeout or a connection broken after the request went out
                return unconfirmed(plan, attempts, _("LINEから応答がありませんでした: %(reason)s", reason=str(exc)))
            if plan.reply_only:
                return Outcome(SendStatus.FAILED, "reply", attempts,
                               _("LINEに接続できませんでした: %(reason)s", reason=str(exc)))
            log.info("reply for message %s could not connect (%s); pushing instead", plan.message_id, exc)
    return push(plan, attempts, apis, renew)


def open_apis(plan, apis):
    """The open client a batch passes in, else a new one for the plan's token."""
    return nullcontext(apis) if apis is not None else line_apis(plan.access_token)


def push(plan, attempts, apis=None, renew=None):
    config = current_app.config
    retrying = Retrying(
        sleep=lambda seconds: _sleep(seconds),
        before=(lambda state: renew()) if renew is not None else (lambda state: None),
        before_sleep=(lambda state: renew(state.next_action.sleep)) if renew is not None else None,
        stop=stop_after_attempt(config["LINE_SEND_ATTEMPTS"]),
        wait=wait_exponential_jitter(
            multiplier=config["LINE_RETRY_WAIT_MIN"], max=config["LINE_RETRY_WAIT_MAX"],
            jitter=config["LINE_RETRY_WAIT_MIN"],
        ),
        retry=retry_if_exception(is_transient),
        reraise=True,
    )
    request = PushMessageRequest.from_dict({"to": plan.to, "messages": plan.messages})
    try:
        with open_apis(plan, apis) as apis:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    try:
                        response = apis.messaging.push_message_with_http_info(
                            request, x_line_retry_key=plan.retry_key
                        )
                    except ApiException as exc:
                        if exc.status == 409:  # this retry key was already accepted: it was sent
                            return Outcome(SendStatus.SENT, "push", attempts, request_id=request_id(exc.headers))
                        raise
                    return Outcome(SendStatus.SENT, "push", attempts, request_id=request_id(response.headers))
    except ApiException as exc:
        return Outcome(SendStatus.FAILED, "push", attempts, line_error_reason(exc), unauthorized=exc.status == 401)
    except (Urllib3Error, OSError) as exc:
        return Outcome(SendStatus.FAILED, "push", attempts, _("LINEに接続できませんでした: %(reason)s", reason=str(exc)))


class BatchCaller:
    """Calls LINE for a batch's plans on a few threads, one open client per thread and token."""

    def __init__(self, app):
        self.app = app
        self.local = threading.local()
        self.opened = []

    def __call__(self, plan):
        with self.app.app_context():
            clients = getattr(self.local, "clients", None)
            if clients is None:
                clients = self.local.clients = {}
            apis = clients.get(plan.access_token)
            if apis is None:
                opened = line_apis(plan.access_token)
                apis = clients[plan.access_token] = opened.__enter__()
                self.opened.append(opened)
            return call_line(plan, apis)

    def close(self):
        for opened in self.opened:
            opened.__exit__(None, None, None)
