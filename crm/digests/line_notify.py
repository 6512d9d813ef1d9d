"""The installation's own LINE channel that notifies staff (not a shop's channel).

Configured once (NOTIFY_LINE_CHANNEL_ID / _SECRET / _ACCESS_TOKEN).  A staff
member connects their own LINE account by sending a one-time code to its bot;
digests are pushed to that account, and its per-user rich menu shows whether
the staff member's shop has unread messages (the yellow bar).
"""
import logging
import struct
import zlib

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from linebot.v3.messaging import (
    ApiException,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuRequest,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from crm.digests.models import NotificationSettings, NotifyRichMenu
from crm.extensions import db
from crm.line_platform.channels import line_error_reason
from crm.line_platform.client import line_apis
from crm.line_platform.line_errors import is_transient

log = logging.getLogger(__name__)

NORMAL, UNREAD = "normal", "unread"
WIDTH, HEIGHT = 2500, 843
BAR_HEIGHT = 200
YELLOW, GREEN, WHITE, GREY = (255, 214, 0), (6, 199, 85), (255, 255, 255), (220, 220, 220)


def configured():
    config = current_app.config
    return bool(config.get("NOTIFY_LINE_CHANNEL_ID") and config.get("NOTIFY_LINE_CHANNEL_SECRET")
                and config.get("NOTIFY_LINE_CHANNEL_ACCESS_TOKEN"))


def channel_id():
    return current_app.config.get("NOTIFY_LINE_CHANNEL_ID")


def apis():
    return line_apis(current_app.config["NOTIFY_LINE_CHANNEL_ACCESS_TOKEN"])


class PushFailed(Exception):
    def __init__(self, reason, permanent):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def push(api, to, messages, retry_key):
    """Push with a retry key: a retry of an accepted push (409) counts as sent, nothing twice."""
    request = PushMessageRequest.from_dict({"to": to, "messages": messages})
    try:
        api.messaging.push_message_with_http_info(request, x_line_retry_key=retry_key)
    except ApiException as exc:
        if exc.status == 409:
            return
        raise PushFailed(line_error_reason(exc), permanent=not is_transient(exc)) from exc
    except (Urllib3Error, OSError) as exc:
        raise PushFailed(f"{type(exc).__name__}: {exc}", permanent=False) from exc


def reply(reply_token, text):
    """Answer a message to the notification bot (free); failures are only logged."""
    if not reply_token:
        return
    try:
        with apis() as api:
            api.messaging.reply_message(
                ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": [{"type": "text", "text": text}]})
            )
    except (ApiException, Urllib3Error, OSError) as exc:
        log.info("notify channel reply failed: %s", exc)


# -- the staff rich menus ----------------------------------------------------------------

def menu_definition(variant, customers_url, notifications_url):
    """Two buttons (顧客台帳, 通知); the unread variant adds a yellow bar on top."""
    top = BAR_HEIGHT if variant == UNREAD else 0
    half = WIDTH // 2
    areas = [
        {"bounds": {"x": 0, "y": top, "width": half, "height": HEIGHT - top},
         "action": {"type": "uri", "label": _("顧客台帳"), "uri": customers_url}},
        {"bounds": {"x": half, "y": top, "width": WIDTH - half, "height": HEIGHT - top},
         "action": {"type": "uri", "label": _("通知"), "uri": notifications_url}},
    ]
    if variant == UNREAD:
        areas.insert(0, {"bounds": {"x": 0, "y": 0, "width": WIDTH, "height": BAR_HEIGHT},
                         "action": {"type": "uri", "label": _("未読メッセージがあります"), "uri": notifications_url}})
    return {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": variant == UNREAD,
        "name": f"staff-{variant}",
        "chatBarText": _("未読メッセージがあります") if variant == UNREAD else _("メニュー"),
        "areas": areas,
    }


def menu_image(variant):
    """A PNG of the menu's blocks: the yellow bar (unread variant), then two buttons."""
    half = WIDTH // 2

    def row(colour_left, colour_right):
        data = bytearray(b"\x00")
        for x in range(WIDTH):
            data.extend(colour_left if x < half else (GREY if x < half + 8 else colour_right))
        return bytes(data)

    buttons = row(GREEN, WHITE)
    bar = b"\x00" + bytes(YELLOW) * WIDTH
    top = BAR_HEIGHT if variant == UNREAD else 0
    raw = bar * top + buttons * (HEIGHT - top)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def rich_menu_ids():
    """{variant: rich menu id} of the configured channel (empty until setup ran)."""
    rows = db.session.execute(
        sa.select(NotifyRichMenu.variant, NotifyRichMenu.rich_menu_id).where(NotifyRichMenu.channel_id == channel_id())
    ).all()
    return {variant: rich_menu_id for variant, rich_menu_id in rows}


def setup(customers_url, notifications_url, webhook_url=None):
    """Create both staff rich menus (normal is every friend's default); set the webhook. Flushes."""
    from linebot.v3.messaging import SetWebhookEndpointRequest


    old = rich_menu_ids()
    created = {}
    with apis() as api:
        for variant in (NORMAL, UNREAD):
            menu = api.messaging.create_rich_menu(
                RichMenuRequest.from_dict(menu_definition(variant, customers_url, notifications_url))
            )
            api.blob.set_rich_menu_image(menu.rich_menu_id, body=menu_image(variant),
                                         _headers={"Content-Type": "image/png"})
            created[variant] = menu.rich_menu_id
        api.messaging.set_default_rich_menu(created[NORMAL])
        if webhook_url:
            api.messaging.set_webhook_endpoint(SetWebhookEndpointRequest(endpoint=webhook_url))
        for rich_menu_id in old.values():
            try:
                api.messaging.delete_rich_menu(rich_menu_id)
            except ApiException:  # deleted by hand on LINE's side
                pass
    db.session.execute(sa.delete(NotifyRichMenu).where(NotifyRichMenu.channel_id == channel_id()))
    for variant, rich_menu_id in created.items():
        db.session.add(NotifyRichMenu(channel_id=channel_id(), variant=variant, rich_menu_id=rich_menu_id))
    # Every staff member's link points at a deleted menu now: relink on the next sync.

    db.session.execute(sa.update(NotificationSettings).values(rich_menu_variant=None))
    db.session.flush()
    return created
