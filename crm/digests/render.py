"""The words of a digest, in the staff member's language and the shop's timezone."""
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask_babel import force_locale
from flask_babel import gettext as _

from crm.database import utcnow
from crm.urls import external_url


def _link(endpoint, **values):
    try:
        return external_url(endpoint, **values)
    except RuntimeError:  # PUBLIC_BASE_URL is not set and there is no request
        return None


def entry_endpoint(entry):
    """(endpoint, values) of a digest entry: the customer's LINE tab, or the unlinked friend's page."""
    if entry.get("customer_id"):
        return "customers.show", {"customer_id": entry["customer_id"], "tab": "line"}
    return "line_tab.friend", {"friend_id": entry["friend_id"]}


def entry_name(entry):
    if entry.get("customer_id") and entry.get("name"):
        return _("%(name)s 様", name=entry["name"])
    return _("%(name)s（LINE・未連携）", name=entry.get("line_name") or "?")


def waited(since_iso, now=None):
    """How long the oldest message has waited: 「2時間15分」."""
    minutes = max(0, int(((now or utcnow()) - datetime.fromisoformat(since_iso)).total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(days)d日%(hours)d時間", days=days, hours=hours)
    if hours:
        return _("%(hours)d時間%(minutes)d分", hours=hours, minutes=mins)
    return _("%(minutes)d分", minutes=mins)


def local_time(iso, tz_name, locale):
    return format_datetime(datetime.fromisoformat(iso), "M/d HH:mm", tzinfo=ZoneInfo(tz_name), locale=locale)


def summary(content):
    """Counts and the oldest waiting time, as of the digest's decision (the slot)."""
    as_of = datetime.fromisoformat(content["as_of"]) if content.get("as_of") else None
    return _("未読のお客様 %(customers)d人・メッセージ %(messages)d件。最も古いメッセージは%(waited)s待っています。",
             customers=content["customers"], messages=content["messages"],
             waited=waited(content["oldest_unread_since"], as_of))


def title(content):
    return _("【%(shop)s】%(slot)sの未読LINEメッセージ", shop=content["shop_name"], slot=content["slot"])


def text(content, locale, limit):
    """The plain-text digest (LINE and email): summary, then each customer with a link to their LINE tab."""
    lines = [title(content), summary(content), ""]
    entries = content["entries"]
    for entry in entries[:limit]:
        endpoint, values = entry_endpoint(entry)
        line = _("・%(name)s %(count)d件（%(since)s〜）", name=entry_name(entry), count=entry["unread_count"],
                 since=local_time(entry["unread_since"], content["timezone"], locale))
        if entry.get("notify_later"):
            line += " " + _("［後で通知］")
        lines.append(line)
        url = _link(endpoint, **values)
        if url:
            lines.append(url)
    if len(entries) > limit:
        lines.append(_("ほか%(n)d人", n=len(entries) - limit))
    url = _link("digests.notifications")
    if url:
        lines += ["", _("通知一覧: %(url)s", url=url)]
    return "\n".join(lines)


def line_messages(content, locale):
    from flask import current_app

    with force_locale(locale):
        body = text(content, locale, current_app.config["DIGEST_MAX_CUSTOMERS"])
    return [{"type": "text", "text": body[:4900]}]


def email_message(content, locale, to, send_id):
    from flask import current_app

    with force_locale(locale):
        body = text(content, locale, current_app.config["DIGEST_MAX_CUSTOMERS"])
        settings_url = _link("digests.profile")
        if settings_url:
            body += "\n\n" + _("通知の設定（配信停止）: %(url)s", url=settings_url)
        subject = title(content)
    message = EmailMessage()
    message["Subject"] = subject
    message["To"] = to
    message["Message-ID"] = make_msgid(idstring=f"digest-{send_id}")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message
