"""Bring a database to the newest schema, from inside the application.

Alembic is configured in code (no alembic.ini): the revisions ship inside the package, and
the URL is the application's own. `migrate` runs every pending revision in one transaction,
so a failure leaves the schema where it was. On PostgreSQL an advisory lock serialises
concurrent starts (two processes starting at once would otherwise race to create tables).
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from slt.storage.engine import check_connection, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger("slt.storage")
_PG_LOCK_KEY = 0x534C_5401
"""Arbitrary constant naming the advisory lock that guards schema upgrades on PostgreSQL."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic `Config` pointing at the packaged revisions (and *connection*, if given)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def migrate(target: str | URL | AsyncEngine, *, schema: str | None = None) -> str:
    """Upgrade the database at *target* to the newest revision and return that revision.

    *target* is a URL (an engine is made and disposed here) or an existing engine. Raises
    `StorageUnavailableError` with a one-line fix when the database cannot be reached.
    """
    owned = not isinstance(target, AsyncEngine)
    engine = target if isinstance(target, AsyncEngine) else create_engine(target, schema=schema)
    try:
        await check_connection(engine)
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
                await _ensure_schema(conn)
            before = await conn.run_sync(_current_revision)
            await conn.run_sync(_upgrade)
            revision = await conn.run_sync(_current_revision)
    finally:
        if owned:
            await engine.dispose()
    if revision is None:
        raise RuntimeError("the schema upgrade finished without recording a revision")
    if revision != before:
        log.info("database schema upgraded from %s to %s", before or "empty", revision)
    return revision


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current_revision)


async def _ensure_schema(conn: AsyncConnection) -> None:
    """Create the schema named first in the search path when it does not exist yet.

    A configured schema (see `create_engine(schema=...)`) should work on an empty database
    just as the default `public` does, without a manual CREATE SCHEMA first.
    """
    if (await conn.exec_driver_sql("SELECT current_schema()")).scalar() is not None:
        return
    search_path = str((await conn.exec_driver_sql("SHOW search_path")).scalar() or "")
    first = search_path.split(",")[0].strip().strip('"')
    if first and first != "$user":
        quoted = conn.dialect.identifier_preparer.quote(first)
        await conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quoted}")


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
