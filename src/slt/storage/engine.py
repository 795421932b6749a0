"""The single place where database engines are made.

Everything that talks to the database gets its engine from `create_engine`, so the SQLite
details (parent folder, WAL, real transactions) and the PostgreSQL details (connect timeout,
schema) are decided once. `check_connection` turns "the server is not there" into one line
that says which URL failed and what to change, instead of a driver traceback.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

CONNECT_TIMEOUT_S = 10.0
"""How long to wait for a PostgreSQL server before saying it is unreachable."""


class StorageError(Exception):
    """Base of the storage errors; each message says what to do."""


class StorageUnavailableError(StorageError):
    """The database cannot be reached or opened: a configuration or operations problem."""


def normalize_url(url: str | URL) -> URL:
    """Parse *url* and pick the async driver for the two supported databases.

    ``sqlite:///x.db`` and ``postgresql://…`` are accepted as users write them and mapped to
    aiosqlite and asyncpg; any other database is refused with the supported forms.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StorageUnavailableError(
            f"cannot parse database URL {url!r}; use sqlite+aiosqlite:///path/slt.db "
            "or postgresql+asyncpg://user@host:5432/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise StorageUnavailableError(
        f"unsupported database {backend!r} in {describe_url(parsed)}; "
        "use SQLite (default) or PostgreSQL via SLT_DATABASE_URL"
    )


def describe_url(url: str | URL) -> str:
    """The URL with any password hidden, safe to print and log."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def create_engine(url: str | URL, *, schema: str | None = None) -> AsyncEngine:
    """An async engine for *url*.

    SQLite: the database's folder is created, WAL is switched on (readers never block the
    writer, which matters while a backtest reads and an import writes), and BEGIN is emitted
    by SQLAlchemy so that a transaction really covers every statement including DDL.
    PostgreSQL: *schema* (if given) becomes the search path, which lets tests and several
    deployments share one database without touching each other's tables.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        if schema is not None:
            raise StorageError("SQLite has no schemas; use a separate database file instead")
        return _sqlite_engine(parsed)
    server_settings = {"application_name": "slt"}
    if schema is not None:
        server_settings["search_path"] = schema
    connect_args: dict[str, Any] = {
        "timeout": CONNECT_TIMEOUT_S,
        "server_settings": server_settings,
    }
    return create_async_engine(parsed, connect_args=connect_args, pool_pre_ping=True)


def _sqlite_engine(url: URL) -> AsyncEngine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailableError(
                f"cannot create folder {folder} for the SQLite database ({exc.strerror}); "
                "set SLT_DATA_DIR to a writable folder"
            ) from None
    engine = create_async_engine(url)
    _set_up_sqlite(engine.sync_engine)
    return engine


def sqlite_file_twin(engine: AsyncEngine) -> Engine | None:
    """A synchronous engine (the standard library's driver) on the same SQLite file as
    `engine`, set up alike, for a writer that runs whole transactions in one thread; None when
    `engine` is not a SQLite file (PostgreSQL, or an in-memory database another engine would
    not see)."""
    url = engine.url
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or url.query:
        return None  # URI form: its options may name a shared-memory database
    twin = create_sync_engine(url.set(drivername="sqlite"))
    _set_up_sqlite(twin, busy_timeout_ms=0, begin="BEGIN IMMEDIATE")
    return twin


def _set_up_sqlite(
    sync_engine: Engine, *, busy_timeout_ms: int = 30_000, begin: str = "BEGIN"
) -> None:
    """WAL, real transactions (SQLAlchemy emits `begin`), foreign keys and a busy timeout on
    every connection of `sync_engine`.

    The twin takes the write lock at BEGIN and never lets SQLite wait for it: SQLite's own
    busy handler sleeps 1, 2, 5, 10, 15, 20, 25… ms between tries, so a lock another process
    holds for 3 ms costs a waiter 8 ms, and a run of back-to-back transactions (the Feed's
    candle flush) can starve it for a hundred; the writer polls finely instead
    (`slt.storage.sqlite_writer`)."""

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        try:
            cursor = dbapi_connection.cursor()
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA foreign_keys=ON",
                f"PRAGMA busy_timeout={busy_timeout_ms}",
            ):
                cursor.execute(pragma)
            cursor.close()
        except Exception:
            # The pool does not close a connection whose set-up failed; left to the garbage
            # collector, aiosqlite's worker thread would report to an event loop long gone.
            dbapi_connection.close()
            raise

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


async def check_connection(engine: AsyncEngine) -> None:
    """Open one connection or raise `StorageUnavailableError` with a one-line fix."""
    if engine.dialect.name == "sqlite":
        _probe_sqlite_file(engine)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
    except (TimeoutError, OSError, DBAPIError) as exc:
        raise unavailable(engine, exc) from None


def _probe_sqlite_file(engine: AsyncEngine) -> None:
    """Open the database file with the standard driver first.

    A failed aiosqlite connect leaves a worker thread that later reports to an event loop
    which may be closed by then; opening it synchronously catches the usual causes (the
    path is a folder, no permission) without that thread.
    """
    database = engine.url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        sqlite3.connect(Path(database).expanduser()).close()
    except sqlite3.Error as exc:
        raise unavailable(engine, exc) from None


def unavailable(engine: AsyncEngine, exc: BaseException) -> StorageUnavailableError:
    """The one-line error for a database that cannot be used, with its cause and the fix."""
    cause = _root_cause(exc)
    where = describe_url(engine.url)
    if engine.dialect.name == "sqlite":
        return StorageUnavailableError(
            f"cannot open SQLite database {where} ({cause}); check that its folder is "
            "writable or set SLT_DATA_DIR to another folder"
        )
    return StorageUnavailableError(
        f"cannot reach PostgreSQL at {where} ({cause}); start the server or fix "
        "SLT_DATABASE_URL (unset it to use the local SQLite database)"
    )


def _root_cause(exc: BaseException) -> str:
    inner: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        inner = exc.orig
        cause = getattr(inner, "__cause__", None)
        if isinstance(cause, BaseException):
            inner = cause
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    name = type(inner).__name__
    return f"{name}: {text}" if text else name
