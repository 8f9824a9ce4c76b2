"""Versioned evaluation sets, per-label quarantine, and the lifetime of a label.

- ``holdout_sets``: each ``train_stream.py --holdout`` adds a set instead of replacing the
  one other lineages are gated on. Existing held-out rows become set 1, and every version
  evaluated on them records it.
- ``model_versions``: the evaluation set a version was scored on, the version whose labels
  a new base carried (``carried_from``), and whether a version folded the labels before it
  into itself (``consolidated``), so replay stops there.
- ``feedback``: the score and reason of a per-label quarantine, the version whose batch held
  an answer out as part of the domain slice (``slice_version``), retraction, the version
  that dropped a retracted answer's effect, and the version a rollback took a label from.
- ``removals``: what ``forget`` deleted, kept without the text, until a version drops it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

REASON_CHARS = 64
KIND_CHARS = 16

holdout_reviews = sa.table("holdout_reviews", sa.column("set_id", sa.Integer))
holdout_sets = sa.table(
    "holdout_sets",
    sa.column("id", sa.Integer),
    sa.column("source_detail", sa.Text),
    sa.column("rows", sa.Integer),
)
model_versions = sa.table(
    "model_versions",
    sa.column("holdout_set", sa.Integer),
    sa.column("holdout_rows", sa.Integer),
)


def upgrade() -> None:
    op.create_table(
        "holdout_sets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("source_detail", sa.Text, nullable=False, server_default=""),
        sa.Column("rows", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "removals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(KIND_CHARS), nullable=False),
        # No foreign keys: the rows they named are gone.
        sa.Column("feedback_id", sa.Integer, nullable=False),
        sa.Column("learned_version", sa.Integer),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("dropped_version", sa.Integer),
    )
    # Plain ADD COLUMN on both backends (see 0003: rebuilding a table cascades on SQLite).
    op.add_column("holdout_reviews", sa.Column("set_id", sa.Integer))
    op.create_index("ix_holdout_reviews_set_id", "holdout_reviews", ["set_id"])
    op.add_column("model_versions", sa.Column("holdout_set", sa.Integer))
    op.add_column("model_versions", sa.Column("carried_from", sa.Integer))
    op.add_column(
        "model_versions",
        sa.Column("consolidated", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column("feedback", sa.Column("quarantine_score", sa.Float))
    op.add_column("feedback", sa.Column("quarantine_reason", sa.String(REASON_CHARS)))
    op.add_column("feedback", sa.Column("slice_version", sa.Integer))
    op.add_column("feedback", sa.Column("retracted_at", sa.DateTime(timezone=True)))
    op.add_column("feedback", sa.Column("dropped_version", sa.Integer))
    op.add_column("feedback", sa.Column("requeued_from_version", sa.Integer))
    _first_set(op.get_bind())


def _first_set(connection: sa.Connection) -> None:
    """The held-out rows stored so far become set 1, and the versions scored on them say so."""
    rows = connection.execute(sa.select(sa.func.count()).select_from(holdout_reviews)).scalar()
    if not rows:
        return
    connection.execute(
        holdout_sets.insert().values(
            id=1, source_detail="held out before migration 0004", rows=rows
        )
    )
    connection.execute(holdout_reviews.update().values(set_id=1))
    connection.execute(
        model_versions.update().where(model_versions.c.holdout_rows > 0).values(holdout_set=1)
    )
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT setval(pg_get_serial_sequence('holdout_sets', 'id'), 1)")


def downgrade() -> None:
    for column in (
        "requeued_from_version",
        "dropped_version",
        "retracted_at",
        "slice_version",
        "quarantine_reason",
        "quarantine_score",
    ):
        op.drop_column("feedback", column)
    for column in ("consolidated", "carried_from", "holdout_set"):
        op.drop_column("model_versions", column)
    op.drop_index("ix_holdout_reviews_set_id", table_name="holdout_reviews")
    op.drop_column("holdout_reviews", "set_id")
    op.drop_table("removals")
    op.drop_table("holdout_sets")
