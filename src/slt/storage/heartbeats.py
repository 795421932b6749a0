"""Process heartbeats in the database: the Orchestrator writes, `slt status` reads.

The heartbeat board is shared memory owned by the Orchestrator, invisible to another
terminal. So the Orchestrator copies each process's slot into `process_heartbeats` every few
seconds, one row per (run, role) overwritten in place: the table holds the newest beat of
each process, never a history, so it stays a handful of rows however long a run lasts.

A row is a plain value (`HeartbeatRow`); stats are the role's named numbers, stored as a JSON
object so a stat added later needs no migration. Times are int UTC ms: `beat_ms` is when the
process last stamped its slot, `written_ms` when the Orchestrator copied it (a row whose
`written_ms` is old means the Orchestrator itself is gone).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import orjson
from sqlalchemy import RowMapping, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from slt.storage.trading_schema import process_heartbeats


class HeartbeatRow(msgspec.Struct, frozen=True):
    """One process's newest heartbeat as stored. `phase` is the board's phase name
    (STARTING, RUNNING, STOPPING, STOPPED, EMPTY); `beat_ms` is 0 when it never beat."""

    run_id: str
    role: str
    pid: int
    phase: str
    started_ms: int
    beat_ms: int
    beats: int
    restarts: int
    written_ms: int
    stats: dict[str, float] = {}

    def age_ms(self, now_ms: int) -> int:
        """How long since the process's last stamp (since its start when it never beat)."""
        return now_ms - (self.beat_ms or self.started_ms)


def _clean(stats: dict[str, float]) -> dict[str, float | None]:
    """JSON has no NaN or infinity: such a stat is stored as null."""
    return {k: (float(v) if math.isfinite(v) else None) for k, v in stats.items()}


def _insert(conn: AsyncConnection) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(process_heartbeats)
    return sqlite.insert(process_heartbeats)


async def write_heartbeats(engine: AsyncEngine, rows: Iterable[HeartbeatRow]) -> int:
    """Upsert *rows* in one transaction (the newest write of a (run, role) wins); the count.

    No "not older than" guard as the ledger's positions have: there is one writer per run
    (its Orchestrator), and a restarted process's first beat may be older than its
    predecessor's last one only by clock noise, which the newer row should still replace."""
    values = [
        {
            **{f: getattr(r, f) for f in HeartbeatRow.__struct_fields__ if f != "stats"},
            "stats": orjson.dumps(_clean(r.stats), option=orjson.OPT_SORT_KEYS).decode(),
        }
        for r in rows
    ]
    if not values:
        return 0
    async with engine.begin() as conn:
        for row in values:
            stmt = _insert(conn).values(**row)
            changed = {k: stmt.excluded[k] for k in row if k not in ("run_id", "role")}
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[process_heartbeats.c.run_id, process_heartbeats.c.role],
                    set_=changed,
                )
            )
    return len(values)


async def read_heartbeats(engine: AsyncEngine, run_id: str) -> list[HeartbeatRow]:
    """The newest heartbeat of each process of *run_id*, by role."""
    query = (
        select(process_heartbeats)
        .where(process_heartbeats.c.run_id == run_id)
        .order_by(process_heartbeats.c.role)
    )
    async with engine.connect() as conn:
        rows: Sequence[RowMapping] = (await conn.execute(query)).mappings().all()
    return [_row(r) for r in rows]


def _row(r: RowMapping) -> HeartbeatRow:
    raw: dict[str, Any] = orjson.loads(r["stats"])
    return HeartbeatRow(
        run_id=str(r["run_id"]),
        role=str(r["role"]),
        pid=int(r["pid"]),
        phase=str(r["phase"]),
        started_ms=int(r["started_ms"]),
        beat_ms=int(r["beat_ms"]),
        beats=int(r["beats"]),
        restarts=int(r["restarts"]),
        written_ms=int(r["written_ms"]),
        stats={k: (math.nan if v is None else float(v)) for k, v in raw.items()},
    )
