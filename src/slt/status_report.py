"""The data of `slt status`, assembled from the database alone.

Everything comes from the database (the ledger the Brain writes, the heartbeats the
Orchestrator copies there every few seconds, the model registry), never from the running
processes, so it can be read from another terminal while `slt run` trades, and after it
stopped. `gather` is the whole read; `as_json` is the machine form of its answer.

Clocks: times are int UTC ms. "Now" is the wall clock, except on a replay of the offline
exchange, whose market clock runs `replay_speed` times faster than the wall: there the
positions' time left and "today" are measured on the market time of the last account
snapshot (the Brain's own clock). Process ages are always wall time (beats are stamped with
the wall clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.config import Settings
from slt.model.registry import ModelRecord, ModelRegistry
from slt.runtime.heartbeat import wall_ms
from slt.storage import (
    AccountSnapshot,
    DaySummary,
    LiveRun,
    PositionOp,
    TradingStore,
    create_engine,
    describe_url,
    migrate,
)
from slt.storage.engine import normalize_url, unavailable
from slt.storage.heartbeats import HeartbeatRow, read_heartbeats

REPLAY_VENUE = "local"
"""The venue kind whose clock is the replay's market clock (see the module notes)."""


@dataclass(frozen=True, slots=True)
class PositionView:
    """An open position as stored, with what a trader asks of it first."""

    position: PositionOp
    time_left_ms: int
    """entry + max hold − now; negative once the time exit is overdue."""
    unrealized_pnl: Decimal | None
    """As the Brain stored it, else computed from the stored mark; None without a mark."""


@dataclass(frozen=True, slots=True)
class ProcessView:
    """A process's newest stored heartbeat and how old it is on the wall clock."""

    beat: HeartbeatRow
    age_ms: int
    stale: bool
    """No beat for longer than the supervisor's stuck limit (while not stopped)."""


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything `slt status` shows about one run (the database URL without password;
    `now_ms` is the clock positions and "today" are measured on, see `market_clock`)."""

    database: str
    run: LiveRun
    now_ms: int
    market_clock: bool
    max_hold_ms: int
    positions: tuple[PositionView, ...]
    account: AccountSnapshot | None
    today: DaySummary
    strategy: str
    champion: ModelRecord | None
    processes: tuple[ProcessView, ...]
    wall_ms: int
    """The wall clock the process ages are measured on."""
    stuck_ms: int
    """A beat (or the Orchestrator's copy of the beats) older than this is stale."""


def time_left_ms(entry_time_ms: int, max_hold_ms: int, now_ms: int) -> int:
    """Until the time exit closes the position (the risk layer's `max_hold_ms` rule)."""
    return entry_time_ms + max_hold_ms - now_ms


def mark_pnl(p: PositionOp) -> Decimal | None:
    """The stored unrealised PnL, else (mark − entry) × quantity, signed by the side."""
    if p.unrealized_pnl is not None:
        return p.unrealized_pnl
    if p.mark_price is None:
        return None
    sign = 1 if p.side == "LONG" else -1
    return (p.mark_price - p.entry_price) * p.quantity * sign


def _config(run: LiveRun, section: str, key: str, default: Any) -> Any:
    """A setting as the run was started with it (its stored config), else today's."""
    part = run.config.get(section)
    return part.get(key, default) if isinstance(part, dict) else default


async def gather(
    engine: AsyncEngine, settings: Settings, run_id: str | None, wall_now_ms: int
) -> StatusReport | None:
    """The report of *run_id* (the latest run when None); None when there is no such run."""
    store = TradingStore(engine)
    run = await (store.latest_run() if run_id is None else store.run(run_id))
    if run is None:
        return None
    positions = await store.open_positions(run.run_id)
    account = await store.last_account(run.run_id)
    market = run.venue == REPLAY_VENUE
    now = wall_now_ms
    if market:
        seen = [p.updated_ms for p in positions] + ([account.time_ms] if account else [])
        now = max(seen, default=run.started_ms)
    max_hold = int(_config(run, "risk", "max_hold_ms", settings.risk.max_hold_ms))
    stuck_ms = int(float(_config(run, "live", "stuck_after_s", settings.live.stuck_after_s)) * 1000)
    strategy = str(_config(run, "live", "strategy", settings.live.strategy))
    champion = None
    if strategy == "ml":
        champion = await ModelRegistry(engine, settings.data_dir / "models").champion()
    processes = tuple(
        ProcessView(
            b,
            b.age_ms(wall_now_ms),
            b.phase != "STOPPED" and b.age_ms(wall_now_ms) > stuck_ms,
        )
        for b in await read_heartbeats(engine, run.run_id)
    )
    return StatusReport(
        database=describe_url(engine.url),
        run=run,
        now_ms=now,
        market_clock=market,
        max_hold_ms=max_hold,
        positions=tuple(
            PositionView(p, time_left_ms(p.entry_time_ms, max_hold, now), mark_pnl(p))
            for p in positions
        ),
        account=account,
        today=await store.day_summary(now, run.run_id),
        strategy=strategy,
        champion=champion,
        processes=processes,
        wall_ms=wall_now_ms,
        stuck_ms=stuck_ms,
    )


def missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file *url* names when it does not exist (nothing has run yet), else None."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    path = Path(parsed.database).expanduser()
    return None if path.exists() else path


async def load(settings: Settings, run_id: str | None) -> StatusReport | None:
    """Open the configured database (migrated), gather, release; `StorageError` on failure."""
    engine = create_engine(settings.effective_database_url)
    try:
        await migrate(engine)
        return await gather(engine, settings, run_id, wall_ms())
    except (OSError, DBAPIError) as exc:
        raise unavailable(engine, exc) from None
    finally:
        await engine.dispose()


def oos_metrics(m: ModelRecord) -> dict[str, Any]:
    """The model's walk-forward out-of-sample metrics ({} when it has none)."""
    wf = m.metrics.get("walk_forward")
    oos = wf.get("oos") if isinstance(wf, dict) else None
    return oos if isinstance(oos, dict) else {}


def checks_word(m: ModelRecord) -> str:
    """The model's stored bias and health checks in one word (promotion needs "passed")."""
    if m.checks is None:
        return "not checked"
    return "passed" if m.checks.get("passed") else "failed"


def _model_json(m: ModelRecord) -> dict[str, Any]:
    return {
        "model_id": m.model_id,
        "interval": m.interval,
        "oos": oos_metrics(m),
        "checks": checks_word(m),
    }


def as_json(report: StatusReport) -> dict[str, Any]:
    """The report as plain JSON values: amounts as exact decimal strings, times as int ms."""

    def dec(v: Decimal | None) -> str | None:
        return None if v is None else str(v)

    m = report.champion
    return {
        "database": report.database,
        "run": {
            "run_id": report.run.run_id,
            "venue": report.run.venue,
            "started_ms": report.run.started_ms,
            "ended_ms": report.run.ended_ms,
        },
        "now_ms": report.now_ms,
        "market_clock": report.market_clock,
        "max_hold_ms": report.max_hold_ms,
        "account": None
        if report.account is None
        else {
            "time_ms": report.account.time_ms,
            "equity": dec(report.account.equity),
            "balance": dec(report.account.balance),
            "available": dec(report.account.available),
        },
        "positions": [
            {
                "symbol": v.position.symbol,
                "side": v.position.side,
                "quantity": dec(v.position.quantity),
                "entry_price": dec(v.position.entry_price),
                "entry_time_ms": v.position.entry_time_ms,
                "time_left_ms": v.time_left_ms,
                "mark_price": dec(v.position.mark_price),
                "unrealized_pnl": dec(v.unrealized_pnl),
            }
            for v in report.positions
        ],
        "today": {
            "day_start_ms": report.today.day_start_ms,
            "trades": len(report.today.trades),
            "wins": report.today.wins,
            "net_pnl": dec(report.today.net_pnl),
            "fees": dec(report.today.fees),
        },
        "strategy": report.strategy,
        "model": None if m is None else _model_json(m),
        "heartbeats_copied_ms": max((p.beat.written_ms for p in report.processes), default=None),
        "processes": [
            {
                "role": p.beat.role,
                "pid": p.beat.pid,
                "phase": p.beat.phase,
                "beat_ms": p.beat.beat_ms,
                "age_ms": p.age_ms,
                "stale": p.stale,
                "restarts": p.beat.restarts,
                "stats": {k: (None if v != v else v) for k, v in p.beat.stats.items()},
            }
            for p in report.processes
        ],
    }
