"""`slt status` on SQLite and PostgreSQL: migration 0004, heartbeat rows, marks on positions,
the report assembled from a seeded ledger, and the command itself on a seeded database."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import msgspec
import pytest
from alembic import command
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from slt.cli import app
from slt.cli_status import run_state
from slt.config import Settings
from slt.runtime.heartbeat import wall_ms
from slt.status_report import gather
from slt.storage import (
    AccountSnapshot,
    PositionOp,
    StartRun,
    TradeOp,
    TradingStore,
    create_engine,
    current_revision,
    head_revision,
    migrate,
)
from slt.storage.heartbeats import HeartbeatRow, read_heartbeats, write_heartbeats
from slt.storage.migrate import alembic_config

pytestmark = pytest.mark.integration

PG_URL = os.environ.get(
    "SLT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
DAY = 86_400_000
HOUR = 3_600_000
MIN = 60_000
NOW = 1_764_849_600_000  # 2025-12-04 12:00 UTC
RUN = "r-status"


def position(symbol: str, side: str, entry_ms: int, **marks: Decimal | None) -> PositionOp:
    return PositionOp(
        RUN, symbol, side, Decimal("0.5"), Decimal("100.0"), entry_ms, 5, Decimal("10"),
        Decimal("95"), "slt-stop", None, entry_ms, **marks,
    )  # fmt: skip


def trade(symbol: str, exit_ms: int, net: str) -> TradeOp:
    return TradeOp(
        RUN, symbol, "LONG", exit_ms - 10 * MIN, exit_ms, Decimal("100"), Decimal("101"),
        Decimal("1"), 5, Decimal(net) + Decimal("0.1"), Decimal("0.1"), Decimal(0),
        Decimal(net), 0.01, "take_profit",
    )  # fmt: skip


def beat(role: str, beat_ms: int, **stats: float) -> HeartbeatRow:
    return HeartbeatRow(
        RUN, role, 4242, "RUNNING", beat_ms - HOUR, beat_ms, 3600, 0, beat_ms, dict(stats)
    )


async def seed(engine: AsyncEngine, now: int, venue: str = "testnet") -> None:
    """One run: two open positions (one overdue, one with a stored mark and PnL), account
    snapshots, trades yesterday and today, and both processes' heartbeats."""
    store = TradingStore(engine)
    config = {"risk": {"max_hold_ms": 2 * HOUR}, "live": {"strategy": "ml", "stuck_after_s": 30}}
    await store.apply(StartRun(RUN, venue, now - 3 * HOUR, config))
    await store.apply(position("BTCUSDT", "LONG", now - 30 * MIN, mark_price=Decimal("104.5")))
    await store.apply(
        position(
            "ETHUSDT",
            "SHORT",
            now - 2 * HOUR - 5 * MIN,
            mark_price=Decimal("98"),
            unrealized_pnl=Decimal("0.99"),
        )
    )
    await store.apply(position("XRPUSDT", "LONG", now - HOUR))
    for k, equity in enumerate(("1000", "1012.5")):
        await store.apply(
            AccountSnapshot(
                RUN, now - (1 - k) * MIN, Decimal(equity), Decimal(equity), Decimal("900"), 3
            )
        )
    day = now - now % DAY
    for t in (trade("BTCUSDT", day - MIN, "9"), trade("BTCUSDT", day + MIN, "2.5")):
        await store.apply(t)
    await store.apply(trade("ETHUSDT", day + 2 * MIN, "-1.25"))
    await write_heartbeats(
        engine,
        [
            beat("feed", now - 12_000, rest_weight_used=0),
            beat(
                "brain",
                now - 95_000,
                rest_weight_used=41,
                cache_l1_hit_rate=0.97,
                cache_l2_hit_rate=0.5,
                cache_hit_rate=0.985,
            ),
        ],
    )


# --- migration and writes ---------------------------------------------------------------
async def test_0004_adds_the_heartbeat_table_and_the_position_marks(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision() == "0004"

    def columns(conn: Connection, table: str) -> set[str]:
        return {c["name"] for c in inspect(conn).get_columns(table)}

    async with engine.connect() as conn:
        heartbeats = await conn.run_sync(columns, "process_heartbeats")
        positions = await conn.run_sync(columns, "positions")
    assert {"run_id", "role", "pid", "phase", "beat_ms", "stats", "written_ms"} <= heartbeats
    assert {"mark_price", "unrealized_pnl"} <= positions


async def test_a_0003_ledger_upgrades_with_empty_marks(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")

    def upgrade_to(conn: Connection, revision: str) -> None:
        command.upgrade(alembic_config(conn), revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "0003")
            await conn.exec_driver_sql(
                "INSERT INTO positions (run_id, symbol, side, quantity, entry_price, "
                "entry_time_ms, leverage, margin, updated_ms) "
                "VALUES ('old', 'BTCUSDT', 'LONG', '1', '100', 5, 3, '33', 5)"
            )
        assert await migrate(engine) == "0004"
        (row,) = await TradingStore(engine).open_positions("old")
        assert (row.entry_time_ms, row.mark_price, row.unrealized_pnl) == (5, None, None)
    finally:
        await engine.dispose()


async def test_heartbeats_upsert_per_run_and_role(engine: AsyncEngine) -> None:
    first = beat("brain", NOW, equity=1000.5, latency_p50_ms=math.nan)
    assert await write_heartbeats(engine, [first, beat("feed", NOW, symbols_live=3)]) == 2
    stored = (await read_heartbeats(engine, RUN))[0]
    assert stored.stats["equity"] == 1000.5
    assert math.isnan(stored.stats["latency_p50_ms"])  # stored as JSON null, read back as NaN

    later = HeartbeatRow(RUN, "brain", 4343, "STOPPED", NOW, NOW + 5_000, 7, 1, NOW + 6_000)
    await write_heartbeats(engine, [later])
    await write_heartbeats(engine, [HeartbeatRow("other", "brain", 1, "RUNNING", 0, 0, 0, 0, 0)])
    rows = await read_heartbeats(engine, RUN)

    assert [r.role for r in rows] == ["brain", "feed"]
    assert rows[0] == later
    assert rows[1].stats == {"symbols_live": 3.0}
    assert await write_heartbeats(engine, []) == 0


async def test_a_position_write_without_a_mark_keeps_the_mark_and_drops_the_pnl(
    engine: AsyncEngine,
) -> None:
    store = TradingStore(engine)
    marked = position(
        "BTCUSDT", "LONG", NOW, mark_price=Decimal("101.25"), unrealized_pnl=Decimal("0.625")
    )
    await store.apply(marked)
    assert (await store.open_positions(RUN)) == [marked]
    resized = msgspec.structs.replace(
        marked, quantity=Decimal("1"), updated_ms=NOW + MIN, mark_price=None, unrealized_pnl=None
    )
    await store.apply(resized)
    (row,) = await store.open_positions(RUN)
    assert (row.quantity, row.mark_price, row.unrealized_pnl) == (
        Decimal("1"),
        Decimal("101.25"),
        None,
    )
    await store.apply(marked)  # older: ignored, as every position write
    assert (await store.open_positions(RUN))[0].quantity == Decimal("1")


# --- the report --------------------------------------------------------------------------
async def test_the_report_shows_time_left_pnl_today_and_stale_processes(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine, NOW)
    report = await gather(engine, Settings(data_dir=tmp_path), None, NOW)

    assert report is not None and report.run.run_id == RUN and not report.market_clock
    by = {v.position.symbol: v for v in report.positions}
    assert list(by) == ["BTCUSDT", "ETHUSDT", "XRPUSDT"]
    assert by["BTCUSDT"].time_left_ms == 90 * MIN
    assert by["ETHUSDT"].time_left_ms == -5 * MIN
    assert by["BTCUSDT"].unrealized_pnl == Decimal("2.25")  # (104.5 - 100) * 0.5, from the mark
    assert by["ETHUSDT"].unrealized_pnl == Decimal("0.99")  # as the Brain stored it
    assert by["XRPUSDT"].unrealized_pnl is None
    assert report.account is not None and report.account.equity == Decimal("1012.5")
    assert len(report.today.trades) == 2 and report.today.net_pnl == Decimal("1.25")
    assert report.today.wins == 1
    assert report.strategy == "ml" and report.champion is None
    procs = {p.beat.role: p for p in report.processes}
    assert (procs["feed"].age_ms, procs["feed"].stale) == (12_000, False)
    assert (procs["brain"].age_ms, procs["brain"].stale) == (95_000, True)
    assert procs["brain"].beat.stats["cache_hit_rate"] == 0.985
    assert run_state(report) == "running"
    later = dataclasses.replace(report, wall_ms=NOW + 10 * MIN)
    assert "no heartbeats copied for 10m12s: stopped or crashed?" in run_state(later)


async def test_a_replay_is_measured_on_its_market_clock(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    market = NOW - 400 * DAY
    await seed(engine, market, venue="local")
    report = await gather(engine, Settings(data_dir=tmp_path), RUN, NOW)
    assert report is not None and report.market_clock and report.now_ms == market
    assert {v.position.symbol: v.time_left_ms for v in report.positions}["BTCUSDT"] == 90 * MIN
    assert len(report.today.trades) == 2


async def test_no_run_is_none(engine: AsyncEngine, tmp_path: Path) -> None:
    assert await gather(engine, Settings(data_dir=tmp_path), None, NOW) is None
    await seed(engine, NOW)
    assert await gather(engine, Settings(data_dir=tmp_path), "nope", NOW) is None


# --- the command -------------------------------------------------------------------------
runner = CliRunner()


def _pg_problem() -> str | None:
    async def probe() -> None:
        conn = await asyncpg.connect(PG_URL.replace("+asyncpg", "", 1), timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}: {exc}"
    return None


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_URL.replace("+asyncpg", "", 1), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database the command can be pointed at: a SQLite file, or a
    PostgreSQL database of its own (the command takes a URL, not a schema), dropped after."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'slt.db'}"
        return
    problem = _pg_problem()
    if problem is not None:
        pytest.skip(problem)
    name = f"slt_status_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _seeded(url: str, now: int) -> None:
    async def go() -> None:
        engine = create_engine(url)
        try:
            await migrate(engine)
            await seed(engine, now)
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_the_command_prints_the_seeded_run(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SLT_DATABASE_URL", db_url)
    _seeded(db_url, wall_ms())

    result = runner.invoke(app, ["status"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        f"run {RUN} on testnet" in out
        and "UTC, running; now" in out
        and "equity 1,012.50 USDT" in out
    )
    assert re.search(r"BTCUSDT .*LONG .*1h(29|30)m", out), out
    assert re.search(r"ETHUSDT .*overdue (4m5\d|5m0\d)s", out), out
    assert "2.2500" in out and "0.9900" in out
    assert "2 trades, 1 won, net PnL 1.2500 USDT" in out
    assert "no champion" in out
    assert "L1 97.0% · L2 50.0% · overall 98.5%" in out and "feed 0 / brain 41" in out
    assert re.search(r"feed .*RUNNING.*1[2-5] s ago", out, re.IGNORECASE), out
    assert re.search(r"brain .*1m\d\ds ago \(stale\)", out), out

    as_json = runner.invoke(app, ["status", "--json", "--run", RUN])
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.output)
    assert doc["run"]["run_id"] == RUN and doc["account"]["equity"] == "1012.5"
    assert [p["symbol"] for p in doc["positions"]] == ["BTCUSDT", "ETHUSDT", "XRPUSDT"]
    assert doc["positions"][0]["unrealized_pnl"] == "2.25"
    assert doc["today"] == {**doc["today"], "trades": 2, "net_pnl": "1.25"}
    assert {p["role"]: p["stale"] for p in doc["processes"]} == {"brain": True, "feed": False}


def test_an_empty_database_says_so_in_one_line(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SLT_DATABASE_URL", db_url)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0
    assert result.output.count("\n") == 1 and "start one with `slt run`" in result.output
    unknown = runner.invoke(app, ["status", "--run", "nope"])
    assert unknown.exit_code == 1 and "no run 'nope'" in unknown.output
