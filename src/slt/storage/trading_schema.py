"""Query-side table definitions of the live trading tables (migrations 0003 and 0004 own the
DDL).

Kept apart from `slt.storage.schema` so the live ledger can grow without touching the
candle and backtest tables; the tables join the same `metadata`. `ExactDecimal` is the one
place that decides how an exact amount is stored: NUMERIC on PostgreSQL (asyncpg hands back
`Decimal`), the decimal's string on SQLite (which would otherwise round it through a float).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Double,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.types import TypeEngine

from slt.storage.schema import metadata


class ExactDecimal(TypeDecorator[Decimal]):
    """A `Decimal` that comes back exactly as written, on both databases."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"exact amounts must be Decimal, got {type(value).__name__}")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


def _run() -> Column[str]:
    return Column("run_id", String(128), primary_key=True)


live_runs = Table(
    "live_runs",
    metadata,
    _run(),
    Column("venue", String(32), nullable=False),
    Column("started_ms", BigInteger, nullable=False),
    Column("ended_ms", BigInteger, nullable=True),
    Column("config", Text, nullable=False),
)

signals = Table(
    "signals",
    metadata,
    _run(),
    Column("symbol", String(40), primary_key=True),
    Column("time_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("direction", Integer, nullable=False),
    Column("expected_return", Double, nullable=False),
    Column("confidence", Double, nullable=False),
    Column("source", String(128), nullable=False),
)

orders = Table(
    "orders",
    metadata,
    _run(),
    Column("client_id", String(64), primary_key=True),
    Column("symbol", String(40), nullable=False),
    Column("side", String(8), nullable=False),
    Column("type", String(32), nullable=False),
    Column("purpose", String(8), nullable=False),
    Column("quantity", ExactDecimal, nullable=True),
    Column("stop_price", ExactDecimal, nullable=True),
    Column("reduce_only", Boolean, nullable=False),
    Column("close_position", Boolean, nullable=False),
    Column("leverage", Integer, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_rank", Integer, nullable=False),
    Column("code", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

fills = Table(
    "fills",
    metadata,
    _run(),
    Column("fill_key", String(200), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("trade_id", BigInteger, nullable=True),
    Column("symbol", String(40), nullable=False),
    Column("side", String(8), nullable=False),
    Column("price", ExactDecimal, nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("fee", ExactDecimal, nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("maker", Boolean, nullable=False),
    Column("liquidation", Boolean, nullable=False),
)

positions = Table(
    "positions",
    metadata,
    _run(),
    Column("symbol", String(40), primary_key=True),
    Column("side", String(8), nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("entry_price", ExactDecimal, nullable=False),
    Column("entry_time_ms", BigInteger, nullable=False),
    Column("leverage", Integer, nullable=False),
    Column("margin", ExactDecimal, nullable=False),
    Column("stop_price", ExactDecimal, nullable=True),
    Column("stop_client_id", String(64), nullable=True),
    Column("take_profit_price", ExactDecimal, nullable=True),
    Column("updated_ms", BigInteger, nullable=False),
    Column("closed_ms", BigInteger, nullable=True),
    Column("mark_price", ExactDecimal, nullable=True),
    Column("unrealized_pnl", ExactDecimal, nullable=True),
)

live_trades = Table(
    "live_trades",
    metadata,
    _run(),
    Column("symbol", String(40), primary_key=True),
    Column("entry_time_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("exit_time_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("side", String(8), nullable=False),
    Column("entry_price", ExactDecimal, nullable=False),
    Column("exit_price", ExactDecimal, nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("leverage", Integer, nullable=False),
    Column("gross_pnl", ExactDecimal, nullable=False),
    Column("fees", ExactDecimal, nullable=False),
    Column("funding", ExactDecimal, nullable=False),
    Column("net_pnl", ExactDecimal, nullable=False),
    Column("return_pct", Double, nullable=False),
    Column("exit_reason", String(32), nullable=False),
    Column("source", String(128), nullable=False),
)

account_snapshots = Table(
    "account_snapshots",
    metadata,
    _run(),
    Column("time_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("balance", ExactDecimal, nullable=False),
    Column("equity", ExactDecimal, nullable=False),
    Column("available", ExactDecimal, nullable=False),
    Column("open_positions", Integer, nullable=False),
)

experience = Table(
    "experience",
    metadata,
    _run(),
    Column("symbol", String(40), primary_key=True),
    Column("entry_time_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("model_id", String(64), nullable=False),
    Column("features", Text, nullable=False),
    Column("prediction", Double, nullable=False),
    Column("realised_return", Double, nullable=True),
    Column("exit_reason", String(32), nullable=True),
    Column("exit_time_ms", BigInteger, nullable=True),
)

process_heartbeats = Table(
    "process_heartbeats",
    metadata,
    _run(),
    Column("role", String(32), primary_key=True),
    Column("pid", Integer, nullable=False),
    Column("phase", String(16), nullable=False),
    Column("started_ms", BigInteger, nullable=False),
    Column("beat_ms", BigInteger, nullable=False),
    Column("beats", BigInteger, nullable=False),
    Column("restarts", Integer, nullable=False),
    Column("written_ms", BigInteger, nullable=False),
    Column("stats", Text, nullable=False),
)
"""The newest heartbeat of each process of a run (telemetry, not ledger: not in RUN_TABLES)."""
