"""`readerd db copy`: a SQLite library into an empty PostgreSQL database, counts verified.

Every table the models describe is copied, parents first, in chunks, in one
transaction on the target: a copy that fails leaves the target as empty as it was.
Ids are kept (so links, tags and the call log keep pointing at each other), then each
id sequence is moved past the highest id. The full-text index is rebuilt on the target
from the copied rows. Not copied: the passage index and its bookkeeping (derived: the
next processing pass or `ask` cuts it on the target) and the vectors, which live
beside the database and serve either backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, Table, func, select, text
from sqlmodel import SQLModel

from readerd import models  # noqa: F401  (every table joins SQLModel.metadata)
from readerd.errors import StoreError
from readerd.store.common import rebuild_postgres_search
from readerd.store.database import schema_revisions, upgrade_database

CHUNK = 2_000
NOT_COPIED = frozenset({"passage_source"})  # the passage index is re-cut on the target


@dataclass
class CopyReport:
    """Rows copied per table, each equal on both sides (the copy checked it)."""

    rows: dict[str, int] = field(default_factory=dict)


def copy_library(source: Engine, target: Engine) -> CopyReport:
    """Copy the library at `source` (SQLite, current schema) into the empty `target`."""
    if source.dialect.name != "sqlite":
        raise StoreError(f"db copy: the library to copy must be SQLite, not {source.dialect.name}")
    if target.dialect.name != "postgresql":
        raise StoreError(f"db copy: copies into PostgreSQL, not {target.dialect.name}")
    current, head = schema_revisions(source)
    if current != head:
        raise StoreError(
            f"db copy: the library is at schema {current or 'nothing'}, this readerd needs "
            f"{head}; run `readerd db upgrade` on it first"
        )
    upgrade_database(target)
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name not in NOT_COPIED]
    report = CopyReport()
    with source.connect() as reading, target.begin() as writing:
        held = {t.name: _count(writing, t) for t in tables}
        if any(held.values()):
            busy = ", ".join(f"{n} {name}" for name, n in held.items() if n)
            raise StoreError(
                f"db copy: the target already holds a library ({busy}); copy into an empty database"
            )
        for table in tables:
            rows = reading.execute(select(table)).mappings()
            while chunk := rows.fetchmany(CHUNK):
                writing.execute(table.insert(), [dict(row) for row in chunk])
            _move_sequence(writing, table)
            copied, kept = _count(writing, table), _count(reading, table)
            if copied != kept:
                raise StoreError(f"db copy: {table.name}: {kept} rows, {copied} copied")
            report.rows[table.name] = copied
        rebuild_postgres_search(writing)
    return report


def _count(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _move_sequence(connection: Connection, table: Table) -> None:
    """Past the highest copied id, so the next row PostgreSQL numbers does not collide."""
    id_column = table.columns.get("id")
    if id_column is None or not id_column.autoincrement or not id_column.primary_key:
        return
    connection.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)"
        )
    )
