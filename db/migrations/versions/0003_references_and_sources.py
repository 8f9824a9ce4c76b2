"""Unguessable prediction references, and the keyed source of predictions and answers.

Every stored prediction gets a fresh random reference (its public name; the integer id
stays internal), so the answers to old predictions keep working under their new name.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copies of the schema's values: a migration must not change when the code does.
REFERENCE_BYTES = 16
REFERENCE_MAX_CHARS = 64
SOURCE_CHARS = 32
BATCH = 1000

predictions = sa.table(
    "predictions", sa.column("id", sa.Integer), sa.column("reference", sa.String)
)


def upgrade() -> None:
    # Plain ADD COLUMN on both backends. SQLite cannot add a NOT NULL column to a table with
    # rows, and rebuilding ``predictions`` (Alembic's batch mode) would drop the old table
    # with foreign keys on, which cascades and deletes every feedback row.
    op.add_column("predictions", sa.Column("reference", sa.String(REFERENCE_MAX_CHARS)))
    op.add_column("predictions", sa.Column("source", sa.String(SOURCE_CHARS)))
    op.add_column("feedback", sa.Column("source", sa.String(SOURCE_CHARS)))
    _fill_references(op.get_bind())
    op.create_index("ix_predictions_reference", "predictions", ["reference"], unique=True)
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "predictions",
            "reference",
            existing_type=sa.String(REFERENCE_MAX_CHARS),
            nullable=False,
        )


def _fill_references(connection: sa.Connection) -> None:
    """Give every existing prediction a fresh reference, a batch at a time."""
    ids = list(connection.execute(sa.select(predictions.c.id).order_by(predictions.c.id)).scalars())
    statement = (
        predictions.update()
        .where(predictions.c.id == sa.bindparam("row_id"))
        .values(reference=sa.bindparam("new_reference"))
    )
    for start in range(0, len(ids), BATCH):
        rows = [
            {"row_id": row_id, "new_reference": secrets.token_urlsafe(REFERENCE_BYTES)}
            for row_id in ids[start : start + BATCH]
        ]
        connection.execute(statement, rows)


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35 and later) for the reason given in ``upgrade``.
    op.drop_index("ix_predictions_reference", table_name="predictions")
    op.drop_column("feedback", "source")
    op.drop_column("predictions", "source")
    op.drop_column("predictions", "reference")
