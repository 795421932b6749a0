"""Engine creation, migrations and the unreachable-database error."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.storage import (
    StorageError,
    StorageUnavailableError,
    create_engine,
    current_revision,
    head_revision,
    migrate,
)
from slt.storage.engine import normalize_url

pytestmark = pytest.mark.integration


async def test_migrate_is_idempotent_and_reaches_head(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision() == "0004"
    assert await migrate(engine) == "0004"
    async with engine.connect() as conn:
        for table in ("candles", "backtest_runs", "backtest_trades", "models", "alembic_version"):
            await conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}")


async def test_sqlite_folder_is_created_and_wal_is_on(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "er" / "slt.db"
    url = f"sqlite:///{db}"
    assert await migrate(url) == head_revision()
    assert db.is_file()
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        assert (mode, fks) == ("wal", 1)
    finally:
        await engine.dispose()


async def test_unreachable_postgres_is_one_line_with_the_fix() -> None:
    url = "postgresql://slt:secret@127.0.0.1:1/nowhere"
    with pytest.raises(StorageUnavailableError) as err:
        await migrate(url)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("cannot reach PostgreSQL at postgresql+asyncpg://slt:***@127.0.0.1:1")
    assert "secret" not in message
    assert "SLT_DATABASE_URL" in message


async def test_uncreatable_sqlite_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageUnavailableError) as err:
        await migrate(f"sqlite:///{blocker}/slt.db")
    assert "\n" not in str(err.value) and "SLT_DATA_DIR" in str(err.value)


async def test_unopenable_sqlite_file_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "slt.db"
    folder.mkdir()
    with pytest.raises(StorageUnavailableError) as err:
        await migrate(f"sqlite:///{folder}")
    message = str(err.value)
    assert "\n" not in message and message.startswith("cannot open SQLite database")


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
        ("postgresql://u@h/db", "postgresql+asyncpg"),
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("postgresql+psycopg2://u@h/db", "postgresql+asyncpg"),
    ],
)
def test_urls_get_the_async_driver(given: str, driver: str) -> None:
    assert normalize_url(given).drivername == driver


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(StorageUnavailableError):
        normalize_url(url)


def test_sqlite_has_no_schema() -> None:
    with pytest.raises(StorageError, match="SQLite has no schemas"):
        create_engine("sqlite:///x.db", schema="s")


async def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "slt.db"
    path.write_bytes(b"this is not an SQLite database, just some text " * 100)
    with pytest.raises(StorageUnavailableError) as err:
        await migrate(f"sqlite:///{path}")
    message = str(err.value)
    assert "\n" not in message and "not a database" in message
