"""Backtest runs and their trade lists, so results can be listed, compared and re-read.

A run is saved once with all its trades in one transaction; saving the same `run_id` again is
refused, because a run id names one result and silently replacing it would break the
golden-master comparison the id exists for. JSON is canonical (sorted keys, orjson) so the
stored text of a config or a trade is stable across runs and databases. Decimal values are
written as their exact string and come back as strings, the same shape `msgspec.to_builtins`
gives a `TradeRecord`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from slt.storage.engine import StorageError
from slt.storage.schema import backtest_runs, backtest_trades

_TRADE_TEXT_FIELDS = ("entry_price", "exit_price", "quantity", "net_pnl")
_TRADE_FIELDS = (
    "symbol",
    "side",
    "entry_time_ms",
    "exit_time_ms",
    *_TRADE_TEXT_FIELDS,
    "return_pct",
    "exit_reason",
)


class RunExistsError(StorageError):
    """A run with this id is already stored."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One stored run without its trades (what a listing needs). Times are int UTC ms."""

    run_id: str
    created_ms: int
    config: dict[str, Any]
    symbols: tuple[str, ...]
    interval: str
    start_ms: int
    end_ms: int
    metrics: dict[str, Any]
    trade_list_hash: str
    trade_count: int


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One stored run with every trade, each trade as the JSON object it was saved as."""

    summary: RunSummary
    trades: tuple[dict[str, Any], ...]


def dumps(value: Any) -> str:
    """Canonical JSON text: sorted keys, Decimals as exact strings, enums by value."""
    return orjson.dumps(
        value, default=_json_default, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY
    ).decode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


class RunStore:
    """Async access to `backtest_runs` and `backtest_trades`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def save(
        self,
        run_id: str,
        created_ms: int,
        config: Mapping[str, Any],
        symbols: Sequence[str],
        interval: str,
        start_ms: int,
        end_ms: int,
        metrics: Mapping[str, Any],
        trade_list_hash: str,
        trades: Sequence[Mapping[str, Any]],
    ) -> None:
        """Store a finished run and its trades atomically; `RunExistsError` if the id exists.

        Each trade needs the keys symbol, side, entry_time_ms, exit_time_ms, entry_price,
        exit_price, quantity, net_pnl, return_pct and exit_reason; the whole mapping is kept
        as JSON as well, so fields added later are not lost.
        """
        run_row = {
            "run_id": run_id,
            "created_ms": int(created_ms),
            "config": dumps(dict(config)),
            "symbols": dumps(list(symbols)),
            "interval": interval,
            "start_ms": int(start_ms),
            "end_ms": int(end_ms),
            "metrics": dumps(dict(metrics)),
            "trade_list_hash": trade_list_hash,
        }
        trade_rows = [_trade_row(run_id, seq, t) for seq, t in enumerate(trades)]
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(backtest_runs), [run_row])
                if trade_rows:
                    await conn.execute(insert(backtest_trades), trade_rows)
        except IntegrityError:
            if await self._exists(run_id):
                raise RunExistsError(
                    f"backtest run {run_id!r} is already stored; use a new run id"
                ) from None
            raise

    async def get(self, run_id: str) -> RunRecord | None:
        """The run with its trades in their saved order, or None when there is no such run."""
        async with self.engine.connect() as conn:
            summaries = await _summaries(conn, run_id)
            if not summaries:
                return None
            rows = await conn.execute(
                select(backtest_trades.c.raw)
                .where(backtest_trades.c.run_id == run_id)
                .order_by(backtest_trades.c.seq)
            )
            trades = tuple(orjson.loads(raw) for (raw,) in rows)
        return RunRecord(summaries[0], trades)

    async def list(self) -> list[RunSummary]:
        """Every stored run, newest first, without trades."""
        async with self.engine.connect() as conn:
            return await _summaries(conn, None)

    async def _exists(self, run_id: str) -> bool:
        async with self.engine.connect() as conn:
            query = select(backtest_runs.c.run_id).where(backtest_runs.c.run_id == run_id)
            return (await conn.execute(query)).first() is not None


async def _summaries(conn: AsyncConnection, run_id: str | None) -> list[RunSummary]:
    counts = (
        select(backtest_trades.c.run_id, func.count().label("n"))
        .group_by(backtest_trades.c.run_id)
        .subquery()
    )
    query = select(backtest_runs, func.coalesce(counts.c.n, 0)).outerjoin(
        counts, counts.c.run_id == backtest_runs.c.run_id
    )
    if run_id is not None:
        query = query.where(backtest_runs.c.run_id == run_id)
    query = query.order_by(backtest_runs.c.created_ms.desc(), backtest_runs.c.run_id)
    rows = (await conn.execute(query)).all()
    return [
        RunSummary(
            run_id=r.run_id,
            created_ms=int(r.created_ms),
            config=orjson.loads(r.config),
            symbols=tuple(orjson.loads(r.symbols)),
            interval=r.interval,
            start_ms=int(r.start_ms),
            end_ms=int(r.end_ms),
            metrics=orjson.loads(r.metrics),
            trade_list_hash=r.trade_list_hash,
            trade_count=int(r[-1]),
        )
        for r in rows
    ]


def _trade_row(run_id: str, seq: int, trade: Mapping[str, Any]) -> dict[str, Any]:
    missing = [k for k in _TRADE_FIELDS if k not in trade]
    if missing:
        raise ValueError(f"trade {seq} of run {run_id!r} lacks {', '.join(missing)}")
    row: dict[str, Any] = {
        "run_id": run_id,
        "seq": seq,
        "symbol": str(trade["symbol"]),
        "side": _side(trade["side"]),
        "entry_time_ms": int(trade["entry_time_ms"]),
        "exit_time_ms": int(trade["exit_time_ms"]),
        "return_pct": float(trade["return_pct"]),
        "exit_reason": str(_plain(trade["exit_reason"])),
        "raw": dumps(dict(trade)),
    }
    for key in _TRADE_TEXT_FIELDS:
        row[key] = str(_plain(trade[key]))
    return row


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _side(value: Any) -> str:
    """LONG/SHORT from the forms a side takes (Side enum, +1/-1, BUY/SELL, LONG/SHORT)."""
    value = _plain(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in (1, -1):
        return "LONG" if value == 1 else "SHORT"
    text = str(value).upper()
    if text in ("LONG", "BUY", "1"):
        return "LONG"
    if text in ("SHORT", "SELL", "-1"):
        return "SHORT"
    raise ValueError(f"unknown trade side {value!r}; use LONG/SHORT or +1/-1")
