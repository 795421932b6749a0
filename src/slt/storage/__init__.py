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
from slt.storage.journal import Journal, JournalError
from slt.storage.migrate import current_revision, head_revision, migrate
from slt.storage.resilient import ResilientStore, is_unavailable
from slt.storage.runs import RunExistsError, RunRecord, RunStore, RunSummary
from slt.storage.trading import DaySummary, ExperienceRow, LiveRun, OrderRow, TradingStore
from slt.storage.trading_ops import (
    ORDER_STATUSES,
    AccountSnapshot,
    ClosePosition,
    EndRun,
    ExperienceOp,
    FillOp,
    OrderIntent,
    OrderUpdate,
    OutcomeOp,
    PositionOp,
    SignalOp,
    StartRun,
    TradeOp,
    WriteOp,
)
from slt.storage.trading_writes import TradingWrites

__all__ = [
    "ORDER_STATUSES",
    "AccountSnapshot",
    "CandleStore",
    "ClosePosition",
    "DaySummary",
    "EndRun",
    "ExperienceOp",
    "ExperienceRow",
    "FillOp",
    "Journal",
    "JournalError",
    "LiveRun",
    "OrderIntent",
    "OrderRow",
    "OrderUpdate",
    "OutcomeOp",
    "PositionOp",
    "ResilientStore",
    "RunExistsError",
    "RunRecord",
    "RunStore",
    "RunSummary",
    "SeriesInfo",
    "SignalOp",
    "StartRun",
    "StorageError",
    "StorageUnavailableError",
    "TradeOp",
    "TradingStore",
    "TradingWrites",
    "WriteOp",
    "check_connection",
    "create_engine",
    "current_revision",
    "describe_url",
    "head_revision",
    "is_unavailable",
    "migrate",
]
