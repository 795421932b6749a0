"""Alembic environment: runs the revisions on the connection `slt.storage.migrate` hands in.

Configuration lives in code (see `slt.storage.migrate`), so there is no alembic.ini and no
offline mode: the database URL comes from the application settings, never from a file here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from slt.storage.schema import metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "run migrations with `await slt.storage.migrate(url)`; "
            "this environment needs the connection that function provides"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
