"""Text that must fit on one line: a log line, a mail header, a table cell."""

from __future__ import annotations


def one_line(value: object, limit: int | None = None) -> str:
    """Every run of whitespace (CR, LF, tabs included) collapsed to one space; at most `limit`."""
    flat = " ".join(str(value or "").split())
    return flat if limit is None else flat[:limit]
