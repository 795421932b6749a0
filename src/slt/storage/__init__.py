"""Persistence: SQLite by default, PostgreSQL when `SLT_DATABASE_URL` is set.

Start-up order: `engine = create_engine(settings.effective_database_url)`, then
`await migrate(engine)`, then hand the engine to the stores.
"""

from slt.storage.candles import CandleStore, SeriesInfo
from slt.storage.engine import (
    StorageError,
    StorageUnavailableError,
    check_connection,
    create_engine,
    describe_url,
)
from slt.storage.migrate import current_revision, head_revision, migrate
from slt.storage.runs import RunExistsError, RunRecord, RunStore, RunSummary

__all__ = [
    "CandleStore",
    "RunExistsError",
    "RunRecord",
    "RunStore",
    "RunSummary",
    "SeriesInfo",
    "StorageError",
    "StorageUnavailableError",
    "check_connection",
    "create_engine",
    "current_revision",
    "describe_url",
    "head_revision",
    "migrate",
]
