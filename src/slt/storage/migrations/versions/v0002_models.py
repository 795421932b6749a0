"""Model registry: one row per trained model, its file and what it was trained on.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-26

Times are int UTC ms (BIGINT). The model itself is a file under the data directory
(`file_name`, checked by `file_sha256`); `meta` is canonical JSON text with the feature names,
symbols, label and booster parameters and the out-of-sample metrics. `parent_id` names the
model that was champion when this one was trained (no foreign key: a retired parent may be
pruned without rewriting its children).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.String(64), nullable=True),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("schema_hash", sa.String(128), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("train_first_ms", sa.BigInteger(), nullable=False),
        sa.Column("train_last_ms", sa.BigInteger(), nullable=False),
        sa.Column("data_fingerprint", sa.String(128), nullable=False),
        sa.Column("label_horizon", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(128), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", name="pk_models"),
    )
    op.create_index("ix_models_created_ms", "models", ["created_ms"])
    op.create_index("ix_models_status", "models", ["status"])


def downgrade() -> None:
    op.drop_index("ix_models_status", table_name="models")
    op.drop_index("ix_models_created_ms", table_name="models")
    op.drop_table("models")
