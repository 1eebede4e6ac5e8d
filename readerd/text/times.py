"""Times as readerd writes them: ISO 8601 UTC with a Z."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    """The current UTC time as ISO 8601 with a Z."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_utc(value: datetime | None) -> str | None:
    """A datetime (naive means UTC) as ISO 8601 UTC with a Z; None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:  # the database stores naive UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def retry_after_seconds(value: str) -> float | None:
    """Seconds to wait from a Retry-After value (delta seconds or an HTTP date), never < 0.

    None when the value is neither; a date without a zone, or in the past, is 0.
    """
    from email.utils import parsedate_to_datetime

    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when.tzinfo else 0.0
