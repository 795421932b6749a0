"""A migrated engine per test on SQLite and on the PostgreSQL server, as in
tests/integration/storage: each PostgreSQL test gets its own schema, dropped afterwards.
The server URL can be overridden with SLT_TEST_POSTGRES_URL; PostgreSQL tests skip (with the
reason) only when it cannot be reached."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.storage import create_engine, migrate

PG_URL = os.environ.get(
    "SLT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def _postgres_problem() -> str | None:
    dsn = PG_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
        await conn.close()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        eng = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db' / 'slt.db'}")
        await migrate(eng)
        try:
            yield eng
        finally:
            await eng.dispose()
        return
    problem = await _postgres_problem()
    if problem is not None:
        pytest.skip(problem)
    schema = f"slt_test_{uuid.uuid4().hex[:16]}"
    eng = create_engine(PG_URL, schema=schema)
    try:
        await migrate(eng)
        yield eng
    finally:
        await eng.dispose()
        admin = create_engine(PG_URL)
        try:
            async with admin.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await admin.dispose()
