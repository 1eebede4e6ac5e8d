"""An Atom 1.0 feed (RFC 4287) with one entry per digest, written atomically."""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import parseaddr
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

from readerd.digest.render import html_content
from readerd.models import utcnow

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 30


@dataclass(frozen=True)
class FeedEntry:
    """One digest as the feed shows it."""

    digest_date: str  # YYYY-MM-DD
    title: str
    updated: datetime  # naive UTC
    html: str


def entry_from_message(digest_date: str, message: bytes, updated: datetime) -> FeedEntry:
    """Take the subject and the HTML content out of a stored digest e-mail."""
    parsed = message_from_bytes(message, policy=default)
    assert isinstance(parsed, EmailMessage)
    body = parsed.get_body(preferencelist=("html",))
    html = html_content(body.get_content()) if body is not None else ""
    return FeedEntry(digest_date, str(parsed["Subject"] or digest_date), updated, html)


def tag_authority(sender: str | None) -> str:
    """The tag URI authority (RFC 4151): the sender's address, else a name nobody owns."""
    address = parseaddr(sender or "")[1]
    return address.lower() if "@" in address else "readerd.invalid"


def render_feed(entries: list[FeedEntry], *, authority: str) -> bytes:
    """The feed document, newest entry first; ElementTree does all the escaping."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    # The feed's id must never change: derive it from the authority alone.
    _text(feed, "id", f"urn:uuid:{uuid5(NAMESPACE_URL, f'readerd-digest:{authority}')}")
    _text(feed, "title", "readerd digest")
    _text(feed, "updated", _stamp(max((e.updated for e in entries), default=None)))
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "readerd")
    _text(feed, "generator", "readerd")
    for entry in entries:
        node = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(node, "id", f"tag:{authority},{entry.digest_date}:digest")
        _text(node, "title", entry.title)
        _text(node, "updated", _stamp(entry.updated))
        ET.SubElement(node, f"{{{ATOM}}}content", type="html").text = entry.html
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def write_feed(path: Path, entries: list[FeedEntry], *, authority: str) -> None:
    """Replace the feed file atomically: readers see the old file or the new, never half."""
    data = render_feed(entries[:FEED_ENTRIES], authority=authority)
    if path.exists() and path.read_bytes() == data:
        return  # unchanged: leave the file (and its mtime, which readers poll) alone
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # a feed is meant to be read by a web server or feed reader
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _text(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}{name}").text = value


def _stamp(value: datetime | None) -> str:
    return (value or utcnow()).isoformat(timespec="seconds") + "Z"
