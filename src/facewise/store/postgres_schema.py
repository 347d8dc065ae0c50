"""The PostgreSQL store's schema, kept by Alembic (store/migrations/).

Alembic is the migration tool PostgreSQL users already run: each schema change is one
revision script under ``migrations/versions``, applied in order and recorded in the
``alembic_version`` table, so ``alembic history`` and ``alembic current`` tell an operator
where a database stands. facewise applies the missing revisions itself when it opens the
store, under an advisory lock so that processes starting together migrate once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from facewise.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x66616366  # held while a process migrates


def sqlalchemy_url(url: str) -> str:
    """The URL SQLAlchemy (Alembic's engine) needs for psycopg 3."""
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def migrate(url: str) -> None:
    """Bring the database to the newest revision (creating pgvector and the tables on first
    use); StoreError when it holds a revision this facewise does not know (a newer one)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO is for its own CLI
    import sqlalchemy
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = sqlalchemy.create_engine(sqlalchemy_url(url), poolclass=sqlalchemy.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            config.attributes["connection"] = connection
            try:
                command.upgrade(config, "head")
            except CommandError as error:
                head = ScriptDirectory.from_config(config).get_current_head()
                raise StoreError(
                    f"the database's schema is not one this facewise knows (newest: {head}): "
                    f"{error}"
                ) from None
    except sqlalchemy.exc.SQLAlchemyError as error:
        cause = " ".join(str(getattr(error, "orig", None) or error).split())
        raise StoreError(f"cannot open the PostgreSQL store: {cause}") from None
    finally:
        engine.dispose()
