"""Render a digest as plain text and HTML (Jinja2, autoescaped) and wrap both in one e-mail."""

from __future__ import annotations

import hashlib
import textwrap
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from readerd.digest.build import Digest
from readerd.digest.strings import STRINGS, long_date, number, short_date
from readerd.text.lines import one_line

TEMPLATES = Path(__file__).with_name("templates")
SUBJECT_TITLE_CHARS = 60
CONTENT_START, CONTENT_END = "<!--digest-content-->", "<!--/digest-content-->"


@dataclass(frozen=True)
class RenderedDigest:
    """A digest rendered: one subject line and two bodies saying the same thing."""

    subject: str
    text: str
    html: str


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",), disabled_extensions=("txt.j2",), default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = wrap
    return env


def wrap(value: str, indent: str = "", first: str | None = None, width: int = 72) -> str:
    """Wrap text for the plain-text part without breaking words or URLs."""
    return textwrap.fill(
        value,
        width=width,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def subject_line(digest: Digest) -> str:
    """'3 new to read · Sun 22 Nov — First title', one line, in the digest's language."""
    t, day = STRINGS[digest.language], short_date(digest.day, digest.language)
    items = digest.items
    if not items:
        return t["subject_note"].format(day=day)
    subject = t["subject"].format(count=len(items), day=day)
    title = items[0].title
    if len(title) > SUBJECT_TITLE_CHARS:
        title = title[: SUBJECT_TITLE_CHARS - 1].rstrip() + "…"
    return one_line(f"{subject} — {title}")


def render_digest(digest: Digest, *, recipient: str = "") -> RenderedDigest:
    """Subject, plain text and HTML of a digest (an empty digest renders as a short note)."""
    t = STRINGS[digest.language]
    count = len(digest.items)
    summary_line = (
        (t["new_one"] if count == 1 else t["new_many"].format(count=count))
        + " · "
        + t["minutes"].format(minutes=digest.total_minutes)
    )
    context = {
        "d": digest,
        "t": t,
        "count": count,
        "summary_line": summary_line,
        "long_date": long_date(digest.day, digest.language),
        "lang": digest.language,
        "recipient": one_line(recipient),
        "content_start": CONTENT_START,
        "content_end": CONTENT_END,
        "usage": t["tokens"].format(
            tokens_in=number(digest.tokens_in, digest.language),
            tokens_out=number(digest.tokens_out, digest.language),
        )
        + (t["cost"].format(cost=f"{digest.cost:.4f}") if digest.cost is not None else ""),
    }
    env = _environment()
    return RenderedDigest(
        subject=subject_line(digest),
        text=env.get_template("digest.txt.j2").render(context),
        html=env.get_template("digest.html.j2").render(context),
    )


def message_id(day: date, recipient: str, sender: str) -> str:
    """The same Message-ID for the same digest date and recipient, on every attempt."""
    who = hashlib.sha256(recipient.strip().lower().encode("utf-8")).hexdigest()[:16]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "readerd"
    return f"<digest-{day.isoformat()}.{who}@{domain}>"


def compose_message(
    rendered: RenderedDigest, *, sender: str, recipient: str, msgid: str, when: datetime
) -> EmailMessage:
    """A multipart/alternative e-mail: the plain text first, the HTML as the richer choice."""
    message = EmailMessage(policy=SMTP)
    # one_line() keeps every value on one line; EmailMessage also refuses CR/LF itself.
    message["Subject"] = one_line(rendered.subject)
    message["From"] = one_line(sender)
    message["To"] = one_line(recipient)
    message["Date"] = format_datetime(when)
    message["Message-ID"] = msgid
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    # quoted-printable keeps every line 7-bit and short, whatever the server supports.
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return message


def html_content(html: str) -> str:
    """The part of a rendered HTML digest between its content markers (for the feed)."""
    start, end = html.find(CONTENT_START), html.find(CONTENT_END)
    if start < 0 or end < start:
        return html
    return html[start + len(CONTENT_START) : end].strip()
