"""Local date-times typed in the shop's timezone, stored as UTC."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo


def local_to_utc(value, tz_name):
    """'2026-11-22T09:00' in the shop's timezone → aware UTC, or None when malformed."""
    try:
        naive = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if naive.tzinfo is not None:
        return naive.astimezone(timezone.utc)
    return naive.replace(tzinfo=ZoneInfo(tz_name)).astimezone(timezone.utc)
