"""An index of the predictions by the version that served them, with their ids.

The dashboard's live accuracy per version needs each version's first and last prediction
id (``stats.id_ranges``). On SQLite the ``model_version`` index already ends with the rowid;
on PostgreSQL it does not, and reading the ids meant fetching 100,000 wide rows
(bench/results/dashboard.md). With ``(model_version, id)`` both are index seeks. It
replaces the ``model_version`` index it starts with, so a tracked prediction still updates
one index for its version, not two.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_predictions_model_version_id", "predictions", ["model_version", "id"])
    op.drop_index("ix_predictions_model_version", table_name="predictions")


def downgrade() -> None:
    op.create_index("ix_predictions_model_version", "predictions", ["model_version"])
    op.drop_index("ix_predictions_model_version_id", table_name="predictions")
