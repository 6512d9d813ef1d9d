"""Staff members' notification settings and connecting their own LINE with a one-time code."""
import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from crm.database import utcnow
from crm.digests.models import NotificationSettings
from crm.extensions import db

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 8


def settings_for(staff):
    """The staff member's notification settings (created with the defaults)."""
    settings = db.session.get(NotificationSettings, staff.id)
    if settings is None:
        settings = NotificationSettings(staff_id=staff.id, shop_id=staff.shop_id, digest_opt_out=False,
                                        digest_email=True)
        db.session.add(settings)
        db.session.flush()
    return settings


def hash_code(code):
    normalized = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(normalized.encode()).hexdigest()


def new_link_code(staff, now=None):
    """A one-time code the staff member sends to the notification bot (valid NOTIFY_LINK_CODE_MINUTES)."""
    now = now or utcnow()
    settings = settings_for(staff)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    settings.link_code_hash = hash_code(code)
    settings.link_code_expires_at = now + timedelta(minutes=current_app.config["NOTIFY_LINK_CODE_MINUTES"])
    db.session.flush()
    return code


def connect_with_code(code, line_user_id, display_name=None, now=None):
    """Link the LINE user to the staff member whose live code this is; returns the settings or None."""
    now = now or utcnow()
    settings = db.session.scalars(
        sa.select(NotificationSettings).where(NotificationSettings.link_code_hash == hash_code(code))
    ).first()
    if settings is None or settings.link_code_expires_at is None or settings.link_code_expires_at <= now:
        return None
    settings.line_user_id = line_user_id
    settings.line_display_name = display_name
    settings.line_connected_at = now
    settings.link_code_hash = None
    settings.link_code_expires_at = None
    settings.rich_menu_variant = None  # linked on the next sync
    db.session.flush()
    return settings


def disconnect(settings):
    settings.line_user_id = None
    settings.line_display_name = None
    settings.line_connected_at = None
    settings.rich_menu_variant = None
    db.session.flush()


def disconnect_line_user(line_user_id):
    """The LINE user blocked the notification bot: every account connected to it is disconnected."""
    for settings in db.session.scalars(
        sa.select(NotificationSettings).where(NotificationSettings.line_user_id == line_user_id)
    ):
        disconnect(settings)
