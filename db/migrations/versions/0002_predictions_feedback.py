"""Stored predictions, the feedback on them, and the log of retraining runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
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
        "predictions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
            index=True,
        ),
        sa.Column("review", sa.Text, nullable=False),
        sa.Column("label", sa.String(8), nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column(
            "model_version",
            sa.Integer,
            sa.ForeignKey("model_versions.version"),
            nullable=False,
            index=True,
        ),
        sa.Column("channel", sa.String(8), nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "prediction_id",
            sa.Integer,
            sa.ForeignKey("predictions.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("correct", sa.Boolean, nullable=False),
        sa.Column("label", sa.Integer, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
            index=True,
        ),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("learned_version", sa.Integer, sa.ForeignKey("model_versions.version")),
        sa.Column("quarantined_version", sa.Integer, sa.ForeignKey("model_versions.version")),
    )
    op.create_table(
        "retrain_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("learned", sa.Integer, nullable=False),
        sa.Column("holdout_accuracy_before", sa.Float),
        sa.Column("holdout_accuracy_after", sa.Float),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("retrain_runs", "feedback", "predictions"):
        op.drop_table(table)
