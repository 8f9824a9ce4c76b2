"""Model store: versions, their bytes, the current pointer and the held-out reviews.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
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
        "model_versions",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("filename", sa.String(128), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("sklearn_version", sa.String(32), nullable=False),
        sa.Column("numpy_version", sa.String(32), nullable=False),
        sa.Column("feature_params", sa.JSON, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_detail", sa.Text, nullable=False),
        sa.Column("source_sha256", sa.String(64)),
        sa.Column("parent_version", sa.Integer),
        sa.Column("samples_seen", sa.Integer, nullable=False),
        sa.Column("learned", sa.Integer, nullable=False),
        sa.Column("holdout_accuracy", sa.Float),
        sa.Column("holdout_rows", sa.Integer, nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True)),
        sa.Column("pruned_at", sa.DateTime(timezone=True)),
        sa.Column("details", sa.JSON),
    )
    op.create_table(
        "model_blobs",
        sa.Column(
            "version",
            sa.Integer,
            sa.ForeignKey("model_versions.version", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "current_model",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, sa.ForeignKey("model_versions.version"), nullable=False),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_table(
        "holdout_reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("review", sa.Text, nullable=False),
        sa.Column("label", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("holdout_reviews", "current_model", "model_blobs", "model_versions"):
        op.drop_table(table)
