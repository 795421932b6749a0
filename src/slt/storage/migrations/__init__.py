"""Alembic migrations of the SLT database, applied by `slt.storage.migrate`."""
