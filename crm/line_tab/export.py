"""History export as CSV and Excel: every message, unread ones and media references included.

It is the shop's own (owner only) export, so staff's ノート are in it, marked ノート in 方向.

The LINE Official Account's own export leaves out unread messages and keeps a
year; this keeps everything the database has.
"""
import csv
import io
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from crm.conversations.models import Direction, LineFriend, LineMessage
from crm.customers.models import Customer
from crm.extensions import db
from crm.urls import external_url

BATCH = 1000
STATUS_LABELS = {
    "scheduled": "送信予約", "held": "保留", "queued": "送信待ち", "sending": "送信中",
    "sent": "送信済み", "failed": "失敗", "cancelled": "取り消し済み", "unconfirmed": "送信状況を確認できません",
}

# The 種類 column in words (LINE's message types); an unknown type is shown as LINE names it.
TYPE_LABELS = {
    "text": _l("テキスト"), "image": _l("写真"), "sticker": _l("スタンプ"), "location": _l("位置情報"),
    "video": _l("動画"), "audio": _l("音声"), "file": _l("ファイル"), "imagemap": _l("イメージマップ"),
    "template": _l("テンプレート"), "flex": _l("フレックスメッセージ"),
}


def type_label(message_type: str) -> str:
    """The Japanese (or English) word for a LINE message type."""
    label = TYPE_LABELS.get(message_type)
    return str(label) if label is not None else message_type


def body(message: LineMessage) -> str:
    """The 本文 column: the text; for a location its name, address and coordinates."""
    if message.message_type == "location":
        payload = message.payload or {}
        parts = [payload.get("title") or "", payload.get("address") or ""]
        if payload.get("latitude") is not None and payload.get("longitude") is not None:
            parts.append(f"({payload['latitude']}, {payload['longitude']})")
        return " ".join(part for part in parts if part)
    return message.text or ""


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """Text a spreadsheet must not run: a customer's 「=HYPERLINK(...)」 stays text (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def headers():
    """Column titles (in the user's language)."""
    return [_("日時"), _("方向"), _("顧客"), _("LINE名"), _("種類"), _("本文"), _("メディア"), _("ファイル名"),
            _("状態"), _("送信者"), _("承認者"), _("未読"), _("取り消し"), _("編集済み"), _("失敗の理由")]


def _rows(shop, friend_ids=None):
    """Export rows in conversation order, fetched in batches (the history can be long)."""
    zone = ZoneInfo(shop.timezone)
    friends = {
        f.id: (f, c)
        for f, c in db.session.execute(
            sa.select(LineFriend, Customer)
            .outerjoin(Customer, Customer.id == LineFriend.customer_id)
            .where(LineFriend.shop_id == shop.id, *([LineFriend.id.in_(friend_ids)] if friend_ids else []))
        ).all()
    }
    stmt = (
        sa.select(LineMessage)
        .options(selectinload(LineMessage.sender), selectinload(LineMessage.approved_by))
        .where(LineMessage.shop_id == shop.id, *([LineMessage.friend_id.in_(friend_ids)] if friend_ids else []))
        .order_by(LineMessage.friend_id, LineMessage.sent_at, LineMessage.id)
        .execution_options(yield_per=BATCH)
    )
    for message in db.session.scalars(stmt):
        friend, customer = friends[message.friend_id]
        incoming = message.direction == Direction.INCOMING
        note = message.direction == Direction.NOTE  # staff's own ノート: in this staff export, marked as such
        unread = incoming and friend.unread_since is not None and message.sent_at >= friend.unread_since
        media = external_url("line_platform.media", message_id=message.id) if message.media_status == "stored" else ""
        yield [_cell(value) for value in (
            message.sent_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if message.sent_at else "",
            _("受信") if incoming else (_("ノート") if note else _("送信")),
            customer.full_name if customer else _("未連携"),
            friend.display_name,
            type_label(message.message_type),
            body(message),
            media,
            (message.payload or {}).get("fileName", ""),
            "" if incoming or note else STATUS_LABELS.get(message.status.value, message.status.value),
            message.sender.name if message.sender else "",
            message.approved_by.name if message.approved_by else "",
            _("未読") if unread else "",
            _("取り消し") if message.unsent_at else "",
            _("編集済み") if message.edited_at else "",
            message.failure_reason or "",
        )]


def csv_chunks(shop, friend_ids=None):
    """CSV text in chunks, with a BOM so Excel reads the Japanese correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(headers())
    for count, row in enumerate(_rows(shop, friend_ids), start=1):
        writer.writerow(row)
        if count % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(shop, friend_ids=None):
    """An Excel workbook (openpyxl, write-only so memory stays flat)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("LINEトーク履歴"))
    sheet.append(headers())
    for row in _rows(shop, friend_ids):
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
