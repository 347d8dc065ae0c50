"""Leases: which worker owns a video job or a stream processor, until when (the embedded
schema's version 5).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE leases (kind TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL, "
        "until_ms BIGINT NOT NULL, PRIMARY KEY (kind, name))"
    )


def downgrade() -> None:
    op.execute("DROP TABLE leases")
