"""Alembic environment: migrates through the connection that movieclassifier.db passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from movieclassifier.schema import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    # `alembic` run by hand: connect to the URL of the configuration.
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
