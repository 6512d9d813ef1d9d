"""LINE friends' display names and pictures, fetched from LINE's profile API."""
import logging

import sqlalchemy as sa
from linebot.v3.messaging import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from crm.conversations.models import LineFriend
from crm.database import utcnow
from crm.extensions import db
from crm.line_platform.channels import line_error_reason, mark_misconfigured
from crm.line_platform.client import line_apis
from crm.shops.models import LineChannel

log = logging.getLogger(__name__)


def refresh_profile(friend_id):
    """Job: fetch display name and picture from LINE; a failure leaves the old values."""
    friend = db.session.get(LineFriend, friend_id)
    if friend is None:
        return
    channel = db.session.scalars(sa.select(LineChannel).where(LineChannel.shop_id == friend.shop_id)).first()
    if channel is None or not channel.configured:
        return
    token, line_user_id = channel.channel_access_token, friend.line_user_id
    db.session.commit()  # no transaction stays open while LINE answers
    try:
        with line_apis(token) as apis:
            profile = apis.messaging.get_profile(line_user_id)
    except ApiException as exc:
        log.warning("profile of %s not fetched: %s", line_user_id, line_error_reason(exc))
        if exc.status == 401:
            mark_misconfigured(channel, line_error_reason(exc))
        return
    except (Urllib3Error, OSError) as exc:
        log.warning("profile of %s not fetched: %s", line_user_id, exc)
        return
    friend.display_name = profile.display_name or friend.display_name
    friend.picture_url = profile.picture_url
    friend.profile_fetched_at = utcnow()
