"""The digest end to end: real rows in a SQLite file, a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from readerd.digest import send_scheduled_digest
from readerd.digest.render import message_id
from readerd.digest.send import SmtpMailer
from readerd.errors import MailError
from readerd.store.outbox import list_digests
from tests.digest_fixtures import (
    ENGLISH,
    READER,
    SENDER,
    SPANISH,
    Sample,
    add_article,
    add_failure,
    bodies,
    new_engine,
    one_line,
    parse_html,
    setup,
)

if TYPE_CHECKING:
    from tests.servers.smtp import StartServer

DAY = date(2026, 11, 22)


def test_digest_is_multipart_alternative_with_both_parts(
    tmp_path: Path, start_smtp: StartServer
) -> None:
    server, settings, engine = setup(tmp_path, start_smtp)
    for sample in ENGLISH:
        add_article(engine, sample)
    result = send_scheduled_digest(settings, engine, today=DAY)
    assert (result.queued, result.sent, result.errors) == (1, 1, [])
    [received] = server.messages
    assert (received.mail_from, received.rcpt_tos) == ("digest@example.org", [READER])
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert str(message["Subject"]).startswith("3 new to read · Sun 22 Nov — ")
    assert message["Message-ID"] == message_id(DAY, READER, SENDER)
    assert re.fullmatch(r"<digest-2026-11-22\.[0-9a-f]{16}@example\.org>", message["Message-ID"])
    assert (str(message["From"]), str(message["To"])) == (SENDER, READER)
    assert message["Date"].datetime is not None
    text, html = bodies(message)
    visible = " ".join(parse_html(html).words)
    for sample in ENGLISH:
        for part in (one_line(text), visible):
            assert sample.title in part and one_line(sample.summary) in part


def test_links_are_exactly_the_article_urls(tmp_path: Path, start_smtp: StartServer) -> None:
    server, settings, engine = setup(tmp_path, start_smtp)
    add_article(engine, ENGLISH[0])
    add_article(
        engine,
        Sample(
            "https://news.example/a?x=1&y=2",
            "<b>Bold</b> claims",
            "en",
            'Ignore this: <a href="http://evil.example">win</a> or visit http://evil.example/x',
            ("<script>alert(1)</script>",),
            ("news",),
        ),
    )
    add_failure(engine, "https://broken.example/gone", "Gone", "fetch: status=404")
    send_scheduled_digest(settings, engine, today=DAY)
    text, html = bodies(server.messages[0].message)
    assert sorted(parse_html(html).hrefs) == sorted(
        ["https://gardenjournal.example/compost", "https://news.example/a?x=1&y=2"]
    )
    assert "&lt;a href=&#34;http://evil.example&#34;&gt;" in html
    assert "&lt;script&gt;" in html and "<script" not in html and "<b>" not in html
    assert 'href="http://evil.example">win</a>' in text  # plain text stays verbatim


def test_spanish_accents_and_emoji_survive(tmp_path: Path, start_smtp: StartServer) -> None:
    server, settings, engine = setup(tmp_path, start_smtp)
    for sample in [*SPANISH, ENGLISH[0]]:
        add_article(engine, sample)
    send_scheduled_digest(settings, engine, today=DAY)
    received = server.messages[0]
    received.data.decode("ascii")  # every byte on the wire is 7-bit: encoded words and QP
    message = received.message
    assert str(message["Subject"]) == (
        "5 para leer · dom 22 nov — Energía solar en casa: lo que hay que saber"
    )
    text, html = bodies(message)
    for part in (text, html):
        assert "5 artículos nuevos" in part and "domingo, 22 de noviembre de 2026" in part
        assert "Home composting without the smell 🌱" in part
        assert "La dieta mediterránea, más allá del aceite" in part
    assert '<html lang="es">' in html


def test_title_with_crlf_cannot_add_a_header(tmp_path: Path, start_smtp: StartServer) -> None:
    server, settings, engine = setup(tmp_path, start_smtp)
    add_article(
        engine,
        Sample("https://x.example/1", "Hello\r\nBcc: victim@example.net\r\n", "en", "Summary."),
    )
    send_scheduled_digest(settings, engine, today=DAY)
    received = server.messages[0]
    assert received.rcpt_tos == [READER]
    headers = received.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert not re.search(r"(?im)^bcc:", headers)
    assert received.message["Bcc"] is None
    assert str(received.message["Subject"]).endswith("— Hello Bcc: victim@example.net")


def test_exactly_once_across_calls_and_restarts(tmp_path: Path, start_smtp: StartServer) -> None:
    server, settings, engine = setup(tmp_path, start_smtp)
    add_article(engine, ENGLISH[0])
    assert send_scheduled_digest(settings, engine, today=DAY).sent == 1
    again = send_scheduled_digest(settings, engine, today=DAY)
    assert (again.queued, again.sent) == (0, 0)
    engine.dispose()
    restarted = new_engine(settings)  # a new process on the same database file
    assert send_scheduled_digest(settings, restarted, today=DAY).sent == 0
    assert len(server.messages) == 1
    [row] = list_digests(restarted)
    assert (row["status"], row["attempts"], row["items"]) == ("sent", 1, 1)


def test_dropped_connection_after_data_is_resent_with_the_same_message_id(
    tmp_path: Path, start_smtp: StartServer
) -> None:
    server, settings, engine = setup(tmp_path, start_smtp, drop_first=1)
    add_article(engine, ENGLISH[0])
    first = send_scheduled_digest(settings, engine, today=DAY)
    assert (first.sent, first.failed) == (0, 1)
    assert "closed the connection" in first.errors[0]
    [row] = list_digests(engine)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert server.messages == [] and len(server.handler.dropped) == 1
    second = send_scheduled_digest(settings, new_engine(settings), today=DAY)  # after a restart
    assert (second.queued, second.sent) == (0, 1)
    [dropped], [delivered] = server.handler.dropped, server.messages
    assert delivered.message["Message-ID"] == dropped.message["Message-ID"]
    assert delivered.data == dropped.data  # the same bytes: same Date, same content
    assert list_digests(engine)[0]["status"] == "sent"


def test_nothing_new_sends_nothing(tmp_path: Path, start_smtp: StartServer) -> None:
    server, settings, engine = setup(tmp_path, start_smtp)
    result = send_scheduled_digest(settings, engine, today=DAY)
    assert (result.queued, result.sent) == (0, 0)
    assert result.skipped == "digest 2026-11-22: nothing new"
    assert server.messages == []
    assert list_digests(engine)[0]["status"] == "skipped"


def test_nothing_new_sends_a_short_note_when_asked(tmp_path: Path, start_smtp: StartServer) -> None:
    server, settings, engine = setup(tmp_path, start_smtp, digest_empty="note")
    add_failure(engine, "https://broken.example/x", "Broken page", "fetch: status=500")
    assert send_scheduled_digest(settings, engine, today=DAY).sent == 1
    message = server.messages[0].message
    assert str(message["Subject"]) == "Nothing new to read · Sun 22 Nov"
    text, _ = bodies(message)
    assert "Nothing new was read since the last digest." in text
    assert "Broken page (broken.example): fetch: status=500" in text


def test_cap_leaves_the_rest_for_the_next_digest(tmp_path: Path, start_smtp: StartServer) -> None:
    server, settings, engine = setup(tmp_path, start_smtp, digest_max_items=2)
    for sample in ENGLISH:
        add_article(engine, sample)
    send_scheduled_digest(settings, engine, today=DAY)
    text, _ = bodies(server.messages[0].message)
    assert "And 1 more — tomorrow." in text and ENGLISH[2].title not in text
    send_scheduled_digest(settings, engine, today=DAY + timedelta(days=1))
    text, _ = bodies(server.messages[1].message)
    assert ENGLISH[2].title in text and ENGLISH[0].title not in text
    third = send_scheduled_digest(settings, engine, today=DAY + timedelta(days=2))
    assert third.skipped == "digest 2026-11-24: nothing new" and len(server.messages) == 2


def test_each_recipient_gets_its_own_message(tmp_path: Path, start_smtp: StartServer) -> None:
    others = ["ana@example.org", "bo@example.net"]
    server, settings, engine = setup(tmp_path, start_smtp, digest_to=others)
    add_article(engine, SPANISH[0])
    assert send_scheduled_digest(settings, engine, today=DAY).sent == 2
    assert sorted(m.rcpt_tos[0] for m in server.messages) == others
    assert len({m.message["Message-ID"] for m in server.messages}) == 2


def test_password_is_never_sent_in_clear_text(tmp_path: Path, start_smtp: StartServer) -> None:
    server, settings, engine = setup(tmp_path, start_smtp, login=True)
    add_article(engine, ENGLISH[0])
    with pytest.raises(MailError, match="refusing to log in over an unencrypted connection"):
        SmtpMailer(settings)
    result = send_scheduled_digest(settings, engine, today=DAY)
    assert result.sent == 0 and "unencrypted" in result.errors[0]
    assert server.handler.auth_attempts == [] and server.messages == []


def test_starttls_verified_with_the_test_ca_then_login(
    tmp_path: Path, start_smtp: StartServer
) -> None:
    server, settings, engine = setup(tmp_path, start_smtp, "starttls", login=True)
    add_article(engine, ENGLISH[0])
    assert send_scheduled_digest(settings, engine, today=DAY).sent == 1
    assert server.messages[0].tls
    assert [login for _, login in server.handler.auth_attempts] == [server.user.encode()]


def test_implicit_tls_verified_with_the_test_ca(tmp_path: Path, start_smtp: StartServer) -> None:
    server, settings, engine = setup(tmp_path, start_smtp, "ssl", login=True)
    add_article(engine, ENGLISH[0])
    assert send_scheduled_digest(settings, engine, today=DAY).sent == 1
    assert server.messages[0].tls


@pytest.mark.parametrize("cert", ["untrusted", "wrong_host"])
def test_certificate_that_does_not_verify_is_refused(
    tmp_path: Path, start_smtp: StartServer, cert: str
) -> None:
    server, settings, engine = setup(tmp_path, start_smtp, "starttls", cert=cert, login=True)
    add_article(engine, ENGLISH[0])
    with pytest.raises(MailError, match=r"TLS certificate of 127\.0\.0\.1:\d+ not trusted"):
        SmtpMailer(settings).send(SENDER, [READER], b"Subject: x\r\n\r\nx\r\n")
    result = send_scheduled_digest(settings, engine, today=DAY)
    assert "not trusted" in result.errors[0]
    assert server.messages == [] and server.handler.auth_attempts == []
    assert list_digests(engine)[0]["status"] == "failed"  # retrying cannot help


def test_starttls_fails_closed_when_the_server_does_not_offer_it(
    tmp_path: Path, start_smtp: StartServer
) -> None:
    server, settings, engine = setup(tmp_path, start_smtp, smtp_security="starttls")
    add_article(engine, ENGLISH[0])
    result = send_scheduled_digest(settings, engine, today=DAY)
    assert "does not offer STARTTLS" in result.errors[0]
    assert server.messages == []
