"""The outbox over time: DIGEST_AT, giving up and sending again, and the Atom feed.

The outbox is a table: its tests run on SQLite and on PostgreSQL (`backend_url`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from readerd.digest import preview_digest, send_digest, send_scheduled_digest
from readerd.digest.feed import FeedEntry, render_feed, write_feed
from readerd.store.outbox import list_digests
from tests.digest_fixtures import ENGLISH, Sample, add_article, setup

if TYPE_CHECKING:
    from tests.servers.smtp import StartServer

DAY = date(2026, 11, 22)
ATOM = "{http://www.w3.org/2005/Atom}"


def test_nothing_is_built_before_digest_at_but_retries_still_go(
    backend_url: str, tmp_path: Path, start_smtp: StartServer
) -> None:
    now = datetime.now().astimezone()
    if (now.hour, now.minute) >= (23, 57):
        pytest.skip("too close to midnight for a DIGEST_AT of 23:59")
    server, settings, engine = setup(
        tmp_path, start_smtp, drop_first=1, digest_at="23:59", database_url=backend_url
    )
    add_article(engine, ENGLISH[0])
    assert send_scheduled_digest(settings, engine, today=DAY).failed == 1  # queued, dropped
    add_article(engine, ENGLISH[1])
    later = send_scheduled_digest(settings, engine)  # a tick before 23:59
    assert later.skipped == "digest: not before 23:59"
    assert (later.queued, later.sent) == (0, 1)  # the retry went; no new digest was built
    assert [row["date"] for row in list_digests(engine)] == ["2026-11-22"]
    assert len(server.messages) == 1 and len(server.handler.dropped) == 1


def test_a_digest_given_up_on_returns_its_items_and_can_be_sent_again(
    backend_url: str, tmp_path: Path, start_smtp: StartServer
) -> None:
    server, settings, engine = setup(tmp_path, start_smtp, database_url=backend_url)
    server.handler.refuse.add("reader@example.org")
    add_article(engine, ENGLISH[0])
    result = send_scheduled_digest(settings, engine, today=DAY)
    assert "550" in result.errors[0]
    assert list_digests(engine)[0]["status"] == "failed"  # a 5xx: retrying cannot help
    tomorrow = preview_digest(settings, engine, day=DAY + timedelta(days=1))
    assert ENGLISH[0].title in tomorrow.text  # the items were not lost with the e-mail
    server.handler.refuse.clear()
    again = send_digest(settings, engine, day=DAY)  # `readerd digest --send --date ...`
    assert (again.queued, again.sent) == (0, 1)
    row = list_digests(engine)[0]
    assert (row["status"], row["attempts"]) == ("sent", 1)


def test_feed_has_one_entry_per_digest_newest_first(
    backend_url: str, tmp_path: Path, start_smtp: StartServer
) -> None:
    feed = tmp_path / "public" / "digest.xml"
    _, settings, engine = setup(
        tmp_path,
        start_smtp,
        feed_path=feed,
        digest_to=["b@example.org", "a@example.org"],
        database_url=backend_url,
    )
    add_article(
        engine, Sample("https://x.example/t", "Tom & Jerry <script>x</script>", "en", "A summary.")
    )
    send_scheduled_digest(settings, engine, today=DAY)
    add_article(engine, ENGLISH[0])
    send_scheduled_digest(settings, engine, today=DAY + timedelta(days=1))
    root = ET.parse(feed).getroot()
    assert root.tag == f"{ATOM}feed" and root.findtext(f"{ATOM}id", "").startswith("urn:uuid:")
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        "tag:digest@example.org,2026-11-23:digest",
        "tag:digest@example.org,2026-11-22:digest",
    ]
    for entry in entries:
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry.findtext(f"{ATOM}updated", "")
        )
        assert entry.findtext(f"{ATOM}title", "").startswith("1 new to read · ")
    content = entries[1].find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    assert "Tom &amp; Jerry &lt;script&gt;x&lt;/script&gt;" in (content.text or "")
    assert "<html" not in (content.text or "") and "Sent to" not in (content.text or "")
    assert "<script" not in feed.read_text("utf-8")
    assert [p.name for p in feed.parent.iterdir()] == ["digest.xml"]  # no temp files left


def test_feed_keeps_the_last_thirty(tmp_path: Path) -> None:
    entries = [
        FeedEntry(f"2026-10-{n:02d}", f"Day {n}", datetime(2026, 10, n), "<p>x</p>")
        for n in range(31, 0, -1)
    ]
    write_feed(tmp_path / "feed.xml", entries, authority="me@example.org")
    root = ET.parse(tmp_path / "feed.xml").getroot()
    assert len(root.findall(f"{ATOM}entry")) == 30
    assert root.findtext(f"{ATOM}updated") == "2026-10-31T00:00:00Z"
    assert render_feed([], authority="me@example.org").startswith(b"<?xml")
