"""Table definitions used by queries. The migrations own the real DDL.

These objects describe the *current* schema for SQLAlchemy Core queries. Each migration in
`migrations/versions/` spells its own DDL out instead of importing from here, so an old
migration keeps creating what it created back then even after this file moves on.

Units: every time is int UTC milliseconds (BIGINT). Candle prices are float64 (the analytics
zone); ledger amounts of a trade are TEXT decimals so that they come back exactly as written.
JSON is stored as TEXT on both databases: one code path, and byte-stable for hashing.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

candles = Table(
    "candles",
    metadata,
    Column("symbol", String(40), primary_key=True),
    Column("interval", String(8), primary_key=True),
    Column("open_time", BigInteger, primary_key=True, autoincrement=False),
    Column("open", Double, nullable=False),
    Column("high", Double, nullable=False),
    Column("low", Double, nullable=False),
    Column("close", Double, nullable=False),
    Column("volume", Double, nullable=False),
)

backtest_runs = Table(
    "backtest_runs",
    metadata,
    Column("run_id", String(128), primary_key=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("config", Text, nullable=False),
    Column("symbols", Text, nullable=False),
    Column("interval", String(8), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("metrics", Text, nullable=False),
    Column("trade_list_hash", String(128), nullable=False),
    Index("ix_backtest_runs_created_ms", "created_ms"),
)

backtest_trades = Table(
    "backtest_trades",
    metadata,
    Column(
        "run_id",
        String(128),
        ForeignKey("backtest_runs.run_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("symbol", String(40), nullable=False),
    Column("side", String(8), nullable=False),
    Column("entry_time_ms", BigInteger, nullable=False),
    Column("exit_time_ms", BigInteger, nullable=False),
    Column("entry_price", Text, nullable=False),
    Column("exit_price", Text, nullable=False),
    Column("quantity", Text, nullable=False),
    Column("net_pnl", Text, nullable=False),
    Column("return_pct", Double, nullable=False),
    Column("exit_reason", String(32), nullable=False),
    Column("raw", Text, nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("model_id", String(64), primary_key=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("parent_id", String(64), nullable=True),
    Column("schema_version", Integer, nullable=False),
    Column("schema_hash", String(128), nullable=False),
    Column("interval", String(8), nullable=False),
    Column("train_first_ms", BigInteger, nullable=False),
    Column("train_last_ms", BigInteger, nullable=False),
    Column("data_fingerprint", String(128), nullable=False),
    Column("label_horizon", Integer, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("file_sha256", String(128), nullable=False),
    Column("meta", Text, nullable=False),
    Index("ix_models_created_ms", "created_ms"),
    Index("ix_models_status", "status"),
)
