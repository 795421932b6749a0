"""Process heartbeats and the marks of open positions, for `slt status`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

`process_heartbeats` holds the newest heartbeat of each process of a run, one row per
(run_id, role), overwritten by the Orchestrator every few seconds. The heartbeat board lives
in the Orchestrator's shared memory, which another terminal cannot read; this table is how
`slt status` sees the processes of a running `slt run`. Times are int UTC ms (BIGINT); the
role's named stats are a JSON object in TEXT (on both databases, like the run config).

`positions` gains the last mark price and unrealised PnL the Brain saw, both nullable: rows
written before this revision, and writes that do not know the mark, leave them empty.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _exact() -> sa.types.TypeEngine[Any]:
    """TEXT on SQLite, NUMERIC (unbounded precision) on PostgreSQL (as in 0003)."""
    return sa.Text().with_variant(sa.Numeric(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "process_heartbeats",
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("beat_ms", sa.BigInteger(), nullable=False),
        sa.Column("beats", sa.BigInteger(), nullable=False),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("written_ms", sa.BigInteger(), nullable=False),
        sa.Column("stats", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "role", name="pk_process_heartbeats"),
    )
    with op.batch_alter_table("positions") as batch:
        batch.add_column(sa.Column("mark_price", _exact(), nullable=True))
        batch.add_column(sa.Column("unrealized_pnl", _exact(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("positions") as batch:
        batch.drop_column("unrealized_pnl")
        batch.drop_column("mark_price")
    op.drop_table("process_heartbeats")
