"""Tags on links: origins kept apart, AI tags matched to the existing vocabulary."""

from __future__ import annotations

from sqlalchemy import Engine, delete, func, text
from sqlmodel import Session, col, select

from readerd.errors import StoreError
from readerd.models import LinkTag, Tag, TagOrigin
from readerd.store.common import reindex
from readerd.text.tags import TagIndex, display_tag, relevant_vocabulary, tag_key


def vocabulary(
    engine: Engine, title: str | None = None, body: str = "", limit: int = 40
) -> list[str]:
    """Existing tags for the analyser: those the article mentions first, then the most used."""
    with Session(engine) as session:
        return relevant_vocabulary(_tag_uses(session), title, body, limit)


def merge_tags(engine: Engine, old: str, new: str) -> int:
    """Relabel every link tagged OLD as NEW (origins kept), drop OLD; returns links relabelled."""
    new = new.strip()
    if not new or new == old:
        raise StoreError("tags: merge needs two different tag names")
    with Session(engine) as session:
        source = session.exec(select(Tag).where(Tag.name == old)).first()
        if source is None:
            raise StoreError(f"tags: no tag named {old!r} (see `readerd tags`)")
        target = session.exec(select(Tag).where(Tag.name == new)).first()
        if target is None:
            target = Tag(name=new)
            session.add(target)
            session.flush()
        rows = session.exec(select(LinkTag).where(LinkTag.tag_id == source.id)).all()
        relabelled = {(row.link_id, row.origin) for row in rows}
        for row in rows:
            session.delete(row)
        session.flush()
        for link_id, origin in relabelled:
            if session.get(LinkTag, (link_id, target.id, origin)) is None:
                session.add(LinkTag(link_id=link_id, tag_id=target.id or 0, origin=origin))
        # OLD and its aliases now mean NEW: the analyser's next OLD is filed under NEW.
        moved = {"old": source.id, "new": target.id, "name": new}
        session.execute(text("UPDATE tag_alias SET tag_id = :new WHERE tag_id = :old"), moved)
        session.execute(text("DELETE FROM tag_alias WHERE alias = :name"), moved)
        _add_aliases(session, target.id or 0, {old}, replace=True)
        session.delete(source)
        session.flush()
        links = sorted({link_id for link_id, _ in relabelled})
        for link_id in links:
            reindex(session, link_id)
        session.commit()
    return len(links)


def _tag_uses(session: Session) -> list[tuple[str, int]]:
    """Every tag on at least one link, with how many links carry it."""
    query = (
        select(Tag.name, func.count(func.distinct(LinkTag.link_id)).label("uses"))
        .join(LinkTag, col(LinkTag.tag_id) == col(Tag.id))
        .group_by(col(Tag.name))
        .order_by(text("uses DESC"), col(Tag.name))
    )
    return [(name, int(uses)) for name, uses in session.exec(query)]


_ALIASES = "SELECT a.alias, t.name FROM tag_alias a JOIN tag t ON t.id = a.tag_id"


_ADD_ALIAS = (
    "INSERT INTO tag_alias (alias, tag_id) VALUES (:alias, :tag_id) ON CONFLICT (alias) DO "
)


def _matched_names(session: Session, names: tuple[str, ...]) -> dict[str, set[str]]:
    """Analyser tags as existing tags where one matches (tags.py), else in display form.

    Maps each chosen name to the typo'd spellings that led to it (aliases to remember).
    """
    index = TagIndex(_tag_uses(session))
    for alias, name in session.execute(text(_ALIASES)):
        index.add_alias(alias, name)
    chosen: dict[str, set[str]] = {}
    for proposed in (display_tag(n) for n in names):
        if not proposed:
            continue
        name = index.match(proposed) or proposed
        typos = {proposed} if tag_key(proposed) != tag_key(name) else set()
        chosen[name] = chosen.get(name, set()) | typos
        index.add(name)
    return chosen


def _add_aliases(session: Session, tag_id: int, aliases: set[str], replace: bool = False) -> None:
    """Remember spellings of a tag (a merge re-points an alias; a match never does)."""
    action = "UPDATE SET tag_id = excluded.tag_id" if replace else "NOTHING"
    for alias in aliases:
        session.execute(text(_ADD_ALIAS + action), {"alias": alias, "tag_id": tag_id})


def set_tags(session: Session, link_id: int, names: tuple[str, ...], origin: TagOrigin) -> None:
    """Replace the link's tags of one origin; the other origin's tags stay.

    Source tags are kept as the service spells them; analyser tags are first
    matched to the existing vocabulary, so a new spelling never forks a tag.
    """
    previous = set(
        session.exec(
            select(LinkTag.tag_id).where(LinkTag.link_id == link_id, LinkTag.origin == origin)
        ).all()
    )
    session.exec(
        delete(LinkTag).where(col(LinkTag.link_id) == link_id, col(LinkTag.origin) == origin)
    )
    if origin == TagOrigin.AI:
        wanted = _matched_names(session, names)
    else:
        wanted = {n: set() for n in dict.fromkeys(n.strip() for n in names if n.strip())}
    for name, aliases in wanted.items():
        tag_id = _tag_id(session, name)
        session.add(LinkTag(link_id=link_id, tag_id=tag_id, origin=origin))
        _add_aliases(session, tag_id, aliases)
    session.flush()
    _drop_unused_tags(session, previous)


def _tag_id(session: Session, name: str) -> int:
    """The tag's id, the tag made first if need be.

    An upsert, not a look-up then an insert: two workers on PostgreSQL may meet the same
    new tag at once, and the second then waits for the first's row instead of failing.
    """
    session.execute(
        text("INSERT INTO tag (name) VALUES (:name) ON CONFLICT (name) DO NOTHING"),
        {"name": name},
    )
    return int(session.exec(select(Tag.id).where(Tag.name == name)).one() or 0)


def _drop_unused_tags(session: Session, tag_ids: set[int]) -> None:
    """Delete those of these tags that no link carries any more."""
    if not tag_ids:
        return
    used = set(session.exec(select(LinkTag.tag_id).where(col(LinkTag.tag_id).in_(tag_ids))).all())
    session.exec(delete(Tag).where(col(Tag.id).in_(tag_ids - used)))
