"""Live trading: runs, signals, orders, fills, positions, trades, account snapshots, experience.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

Times are int UTC ms (BIGINT). Money, prices and quantities are exact decimals: NUMERIC on
PostgreSQL (so the server can sum them), TEXT holding the decimal's string on SQLite (which
has no exact decimal type). Every table has a natural key that a repeated write hits, so a
journal replayed after an outage inserts nothing twice. JSON (run config, feature vectors)
is TEXT on both databases. Every row carries its `run_id` (no foreign key: rows written from
the journal may reach the database in any grouping, and a run row is never deleted).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _exact() -> sa.types.TypeEngine[Any]:
    """TEXT on SQLite, NUMERIC (unbounded precision) on PostgreSQL."""
    return sa.Text().with_variant(sa.Numeric(), "postgresql")


def _run() -> sa.Column[str]:
    return sa.Column("run_id", sa.String(128), nullable=False)


def upgrade() -> None:
    op.create_table(
        "live_runs",
        _run(),
        sa.Column("venue", sa.String(32), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("ended_ms", sa.BigInteger(), nullable=True),
        sa.Column("config", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_live_runs"),
    )
    op.create_index("ix_live_runs_started_ms", "live_runs", ["started_ms"])
    op.create_table(
        "signals",
        _run(),
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.Integer(), nullable=False),
        sa.Column("expected_return", sa.Double(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "symbol", "time_ms", name="pk_signals"),
    )
    op.create_table(
        "orders",
        _run(),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(8), nullable=False),
        sa.Column("quantity", _exact(), nullable=True),
        sa.Column("stop_price", _exact(), nullable=True),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("close_position", sa.Boolean(), nullable=False),
        sa.Column("leverage", sa.Integer(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_rank", sa.Integer(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "client_id", name="pk_orders"),
    )
    op.create_index("ix_orders_run_status", "orders", ["run_id", "status"])
    op.create_table(
        "fills",
        _run(),
        sa.Column("fill_key", sa.String(200), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("trade_id", sa.BigInteger(), nullable=True),
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("price", _exact(), nullable=False),
        sa.Column("quantity", _exact(), nullable=False),
        sa.Column("fee", _exact(), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("maker", sa.Boolean(), nullable=False),
        sa.Column("liquidation", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "fill_key", name="pk_fills"),
    )
    op.create_index("ix_fills_run_client", "fills", ["run_id", "client_id"])
    op.create_table(
        "positions",
        _run(),
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", _exact(), nullable=False),
        sa.Column("entry_price", _exact(), nullable=False),
        sa.Column("entry_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("leverage", sa.Integer(), nullable=False),
        sa.Column("margin", _exact(), nullable=False),
        sa.Column("stop_price", _exact(), nullable=True),
        sa.Column("stop_client_id", sa.String(64), nullable=True),
        sa.Column("take_profit_price", _exact(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "symbol", name="pk_positions"),
    )
    op.create_table(
        "live_trades",
        _run(),
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("entry_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("exit_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("entry_price", _exact(), nullable=False),
        sa.Column("exit_price", _exact(), nullable=False),
        sa.Column("quantity", _exact(), nullable=False),
        sa.Column("leverage", sa.Integer(), nullable=False),
        sa.Column("gross_pnl", _exact(), nullable=False),
        sa.Column("fees", _exact(), nullable=False),
        sa.Column("funding", _exact(), nullable=False),
        sa.Column("net_pnl", _exact(), nullable=False),
        sa.Column("return_pct", sa.Double(), nullable=False),
        sa.Column("exit_reason", sa.String(32), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint(
            "run_id", "symbol", "entry_time_ms", "exit_time_ms", name="pk_live_trades"
        ),
    )
    op.create_index("ix_live_trades_exit_time_ms", "live_trades", ["exit_time_ms"])
    op.create_table(
        "account_snapshots",
        _run(),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("balance", _exact(), nullable=False),
        sa.Column("equity", _exact(), nullable=False),
        sa.Column("available", _exact(), nullable=False),
        sa.Column("open_positions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "time_ms", name="pk_account_snapshots"),
    )
    op.create_table(
        "experience",
        _run(),
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("entry_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("prediction", sa.Double(), nullable=False),
        sa.Column("realised_return", sa.Double(), nullable=True),
        sa.Column("exit_reason", sa.String(32), nullable=True),
        sa.Column("exit_time_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "symbol", "entry_time_ms", name="pk_experience"),
    )
    op.create_index("ix_experience_exit_time_ms", "experience", ["exit_time_ms"])


def downgrade() -> None:
    op.drop_index("ix_experience_exit_time_ms", table_name="experience")
    op.drop_table("experience")
    op.drop_table("account_snapshots")
    op.drop_index("ix_live_trades_exit_time_ms", table_name="live_trades")
    op.drop_table("live_trades")
    op.drop_table("positions")
    op.drop_index("ix_fills_run_client", table_name="fills")
    op.drop_table("fills")
    op.drop_index("ix_orders_run_status", table_name="orders")
    op.drop_table("orders")
    op.drop_table("signals")
    op.drop_index("ix_live_runs_started_ms", table_name="live_runs")
    op.drop_table("live_runs")
