"""Jobs that one readerd at a time may run (sync, digest, write-back; migrating, cutting
passages), for shared databases.

On PostgreSQL several daemons (several machines) may share one library; each would
sync the source and mail the digest. So each such job runs under a session-level
advisory lock named after it: the daemon that gets it runs the job, the others skip
that tick. The lock lives with the connection, so a daemon that dies frees it. On
SQLite the data directory's instance lock (store/lock.py) already allows one daemon.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlmodel import Session


@contextmanager
def singleton(engine: Engine, job: str) -> Iterator[bool]:
    """Whether this process holds `job` now (always on SQLite); held until the block ends."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = {"name": f"readerd:{job}"}
    with engine.connect() as connection:
        held = bool(
            connection.execute(text("SELECT pg_try_advisory_lock(hashtext(:name))"), key).scalar()
        )
        connection.commit()
        try:
            yield held
        finally:
            if held:
                connection.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"), key)
                connection.commit()


def take_turns(connection: Connection | Session, job: str) -> None:
    """Wait, within this transaction, for any other readerd doing `job` on this database.

    A transaction-level advisory lock on PostgreSQL, released at commit, so what this
    transaction reads next includes the other's work. On SQLite, nothing: its single
    writer already takes writing transactions one at a time.
    """
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    if bind.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"readerd:{job}"}
        )
