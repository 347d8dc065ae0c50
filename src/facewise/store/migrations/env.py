"""Alembic's entry point: runs the revisions on the connection postgres_schema.migrate
opened (or, from the alembic command line, on sqlalchemy.url of alembic.ini)."""

from __future__ import annotations

import sqlalchemy
from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # the alembic command, with its own alembic.ini
    engine = sqlalchemy.create_engine(
        context.config.get_main_option("sqlalchemy.url") or "", poolclass=sqlalchemy.NullPool
    )
    with engine.begin() as opened:
        context.configure(connection=opened, transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
