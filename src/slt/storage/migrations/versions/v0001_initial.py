"""Initial schema: candles, backtest runs and their trades.

Revision ID: 0001
Revises:
Create Date: 2025-06-25

Times are int UTC ms (BIGINT). Candle values are float64. A trade's prices, quantity and PnL
are TEXT decimals (exact round trip); `raw` keeps the whole trade as JSON text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "candles",
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("open_time", sa.BigInteger(), nullable=False),
        sa.Column("open", sa.Double(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("low", sa.Double(), nullable=False),
        sa.Column("close", sa.Double(), nullable=False),
        sa.Column("volume", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "interval", "open_time", name="pk_candles"),
    )
    op.create_table(
        "backtest_runs",
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("symbols", sa.Text(), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("trade_list_hash", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_backtest_runs"),
    )
    op.create_index("ix_backtest_runs_created_ms", "backtest_runs", ["created_ms"])
    op.create_table(
        "backtest_trades",
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("entry_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("exit_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("entry_price", sa.Text(), nullable=False),
        sa.Column("exit_price", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Text(), nullable=False),
        sa.Column("net_pnl", sa.Text(), nullable=False),
        sa.Column("return_pct", sa.Double(), nullable=False),
        sa.Column("exit_reason", sa.String(32), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "seq", name="pk_backtest_trades"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["backtest_runs.run_id"],
            name="fk_backtest_trades_run",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("backtest_trades")
    op.drop_index("ix_backtest_runs_created_ms", table_name="backtest_runs")
    op.drop_table("backtest_runs")
    op.drop_table("candles")
