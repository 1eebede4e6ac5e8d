"""Pick the articles of one digest and group them by their strongest tag."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Engine

from readerd.analyze.wordlists import is_generic_tag
from readerd.digest.strings import pick_language
from readerd.models import utcnow
from readerd.results import LinkView
from readerd.store import views
from readerd.text.lines import one_line

MAX_KEY_POINTS = 5
MAX_FAILED_SHOWN = 8
MAX_FAILED_COUNTED = 500
MAX_REASON_CHARS = 160


@dataclass(frozen=True)
class DigestItem:
    """One article as the digest shows it."""

    id: int
    url: str  # the link row's URL, never one from model output
    title: str
    site: str
    reading_minutes: int
    summary: str
    key_points: list[str]
    tags: list[str]
    ai_tags: list[str]
    language: str | None
    href: str | None  # url when it is http(s), else None (shown as text)


@dataclass(frozen=True)
class DigestGroup:
    """Items sharing their strongest tag; tag None is the "Other" group."""

    tag: str | None
    items: list[DigestItem]

    @property
    def label(self) -> str | None:
        """The tag with a capital first letter ("energía solar" → "Energía solar")."""
        return self.tag[:1].upper() + self.tag[1:] if self.tag else None


@dataclass(frozen=True)
class FailedItem:
    """A link that could not be read, and why."""

    title: str
    site: str
    reason: str


@dataclass(frozen=True)
class Digest:
    """Everything one digest says, independent of how it is rendered or sent."""

    day: date
    groups: list[DigestGroup]
    language: str
    more_count: int = 0
    failed: list[FailedItem] = field(default_factory=list)
    failed_more: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = None  # of those tokens, when prices are configured
    window_start: datetime | None = None
    built_at: datetime = field(default_factory=utcnow)

    @property
    def items(self) -> list[DigestItem]:
        """Every item, in the order shown."""
        return [item for group in self.groups for item in group.items]

    @property
    def item_ids(self) -> list[int]:
        """Link ids of the items shown."""
        return [item.id for item in self.items]

    @property
    def total_minutes(self) -> int:
        """Reading time of every item shown."""
        return sum(item.reading_minutes for item in self.items)


def build_digest(
    engine: Engine,
    *,
    day: date,
    max_items: int,
    since: datetime | None = None,
    exclude: set[int] | frozenset[int] = frozenset(),
    failures_since: datetime | None = None,
    now: datetime | None = None,
) -> Digest:
    """Articles analysed after `since`, minus `exclude`, oldest first, capped and grouped."""
    now = now or utcnow()
    ids = [i for i in views.analysed_link_ids(engine, since=since, until=now) if i not in exclude]
    items = [_item(view) for view in views.link_views(engine, ids[:max_items])]
    failed = [
        _failed(view)
        for view in views.failed_links(
            engine, since=failures_since, until=now, limit=MAX_FAILED_COUNTED
        )
    ]
    tokens_in, tokens_out = views.llm_tokens(engine, since=now - timedelta(days=1), until=now)
    return Digest(
        day=day,
        groups=group_items(items),
        language=pick_language([item.language for item in items]),
        more_count=max(0, len(ids) - max_items),
        failed=failed[:MAX_FAILED_SHOWN],
        failed_more=max(0, len(failed) - MAX_FAILED_SHOWN),
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        window_start=since,
        built_at=now,
    )


def group_items(items: list[DigestItem]) -> list[DigestGroup]:
    """Group by each item's strongest tag: the one most items share, AI tags first.

    A group needs two items and a tag that says something ("year" never heads one):
    the rest go to Other (tag None), which comes last.
    """
    languages = tuple(sorted({item.language for item in items if item.language}))
    counts = Counter(
        tag for item in items for tag in item.tags if not is_generic_tag(tag, languages)
    )
    chosen = {
        item.id: _strongest(item.ai_tags, counts) or _strongest(item.tags, counts) for item in items
    }
    sizes = Counter(chosen.values())
    groups: dict[str | None, list[DigestItem]] = {}
    for item in items:
        tag = chosen[item.id]
        groups.setdefault(tag if tag and sizes[tag] >= 2 else None, []).append(item)
    named = sorted((t for t in groups if t is not None), key=lambda t: (-len(groups[t]), t))
    ordered = [DigestGroup(tag, groups[tag]) for tag in named]
    return ordered + ([DigestGroup(None, groups[None])] if None in groups else [])


def _strongest(tags: list[str], counts: Counter[str]) -> str | None:
    shared = [tag for tag in tags if counts[tag] >= 2]
    return min(shared, key=lambda t: (-counts[t], t)) if shared else None


def _split(url: str) -> tuple[str, str]:
    """(scheme, host) of a URL; empty for what does not parse (a source may store anything)."""
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "")
    except ValueError:
        return "", ""


def _site(view: LinkView) -> str:
    return one_line(view.get("site_name")) or _split(view["url"])[1].removeprefix("www.")


def _item(view: LinkView) -> DigestItem:
    # AI tags first: they are the analyser's choice; source tags fill in when there are none.
    tags = list(dict.fromkeys(view["ai_tags"] + view["source_tags"]))
    url = view["url"]
    return DigestItem(
        id=view["id"],
        url=url,
        title=one_line(view["title"]) or url,
        site=_site(view),
        reading_minutes=view["reading_minutes"],
        summary=one_line(view["summary"]),
        key_points=[one_line(p) for p in view["key_points"][:MAX_KEY_POINTS] if one_line(p)],
        tags=[one_line(t) for t in tags],
        ai_tags=[one_line(t) for t in view["ai_tags"]],
        language=view["summary_language"],
        href=url if _split(url)[0] in ("http", "https") else None,
    )


def _failed(view: LinkView) -> FailedItem:
    reason = one_line(view["last_error"]) or view["status"]
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1] + "…"
    return FailedItem(title=one_line(view["title"]) or view["url"], site=_site(view), reason=reason)
