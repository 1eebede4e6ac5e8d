"""Claims with leases: the row is the queue, for one worker or many, on either backend.

A worker claims due rows in one statement — an UPDATE of the rows a sub-select picks,
stamping lease_owner and lease_until — so two workers never get the same row: on
PostgreSQL the sub-select takes its rows FOR UPDATE SKIP LOCKED (a second worker skips
what the first is claiming instead of waiting for it), on SQLite the write engine's
BEGIN IMMEDIATE makes claims one at a time. The worker renews its leases while it works
(an LLM call may take minutes); every save it makes is fenced (store.common.hold, and
save_batch's fence): a worker whose
lease expired, and whose link another worker claimed since, writes nothing. An expired
lease is simply claimable again: no second queue, no broker, nothing to clean up.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection, Iterable
from datetime import timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from readerd.models import Link, Status, utcnow
from readerd.store.queue import DueLink

DEFAULT_LEASE = timedelta(seconds=120)


def new_owner() -> str:
    """A name no other worker has: the host, the process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim_due(
    engine: Engine,
    owner: str,
    limit: int,
    *,
    lease: timedelta = DEFAULT_LEASE,
    stages: Collection[str] | None = None,
    exclude: Collection[int] = (),
) -> list[DueLink]:
    """Up to `limit` due links, oldest first, now leased to `owner` until now + lease.

    Due: pending, not deleted, its retry time come, and no live lease on it. `stages`
    limits the claim to links at those stages (a worker's role); `exclude` skips links
    this worker has already taken in this run.
    """
    now = utcnow()
    picked = (
        select(Link.id)
        .where(Link.status == Status.PENDING, col(Link.deleted).is_(False))
        .where(col(Link.next_attempt_at).is_(None) | (col(Link.next_attempt_at) <= now))
        .where(col(Link.lease_until).is_(None) | (col(Link.lease_until) < now))
        .order_by(col(Link.id))
        .limit(limit)
    )
    if stages is not None:
        picked = picked.where(col(Link.stage).in_(list(stages)))
    if exclude:
        picked = picked.where(col(Link.id).not_in(list(exclude)))
    if engine.dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    claim = (
        update(Link)
        .where(col(Link.id).in_(picked.scalar_subquery()))
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(
            col(Link.id),
            col(Link.url),
            col(Link.stage),
            col(Link.attempts),
            col(Link.provided_content),
            col(Link.provided_content_type),
        )
    )
    with Session(engine) as session:
        rows = session.execute(claim).all()
        session.commit()
    return sorted((DueLink(*row) for row in rows), key=lambda due: due.id)


def renew(
    engine: Engine, owner: str, link_ids: Iterable[int], lease: timedelta = DEFAULT_LEASE
) -> int:
    """Extend this owner's leases on these links; how many it still held."""
    ids = list(link_ids)
    if not ids:
        return 0
    with Session(engine) as session:
        done = session.execute(
            update(Link)
            .where(col(Link.id).in_(ids), col(Link.lease_owner) == owner)
            .values(lease_until=utcnow() + lease)
        )
        session.commit()
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def release_all(engine: Engine) -> int:
    """Drop every lease (SQLite at start-up: the instance lock says no other worker runs)."""
    with Session(engine) as session:
        done = session.execute(
            update(Link)
            .where(col(Link.lease_owner).is_not(None))
            .values(lease_owner=None, lease_until=None)
        )
        session.commit()
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def release(engine: Engine, owner: str, link_ids: Iterable[int]) -> None:
    """Give these links back (still due) for any worker to claim: a role's part is done."""
    ids = list(link_ids)
    if not ids:
        return
    with Session(engine) as session:
        session.execute(
            update(Link)
            .where(col(Link.id).in_(ids), col(Link.lease_owner) == owner)
            .values(lease_owner=None, lease_until=None)
        )
        session.commit()


def release_dead(engine: Engine) -> int:
    """Free the leases of workers on this machine whose process is gone (a kill -9).

    Their links are claimable at once instead of after the lease; a worker on another
    machine is left to its lease's end. How many links were freed.
    """
    here = socket.gethostname()
    with Session(engine) as session:
        owners = session.exec(
            select(Link.lease_owner).where(col(Link.lease_owner).is_not(None)).distinct()
        ).all()
        dead = [o for o in owners if o is not None and _dead_here(o, here)]
        if not dead:
            return 0
        done = session.execute(
            update(Link)
            .where(col(Link.lease_owner).in_(dead))
            .values(lease_owner=None, lease_until=None)
        )
        session.commit()
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def _dead_here(owner: str, host: str) -> bool:
    """Whether `owner` (new_owner()'s host:pid:tag) was a process on this host that is gone."""
    owner_host, _, rest = owner.rpartition(":")[0].rpartition(":")
    pid = rest
    if owner_host != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def release_owner(engine: Engine, owner: str) -> None:
    """Give back whatever `owner` still holds (a pass that ends, or stops, mid-way)."""
    with Session(engine) as session:
        session.execute(
            update(Link)
            .where(col(Link.lease_owner) == owner)
            .values(lease_owner=None, lease_until=None)
        )
        session.commit()
