"""A Brain killed with SIGKILL during an open position, its state file lost as well: after the
restart the position and its entry time come back from the database, are reconciled with the
local exchange, and the 2-hour time exit (shortened here) still fires on schedule — on SQLite
and on PostgreSQL.

The settings make the time exit the exit that happens: a wide stop, a far target, no partial
take-profit, trailing or signal reversal, and a 15-minute holding limit (15 s of wall time at
60× replay), so the test is about the clock surviving the crash, not about prices.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from asyncio.subprocess import PIPE
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from slt.storage.trading_schema import fills, live_trades, orders, positions

from .conftest import Run, StartRun, db_rows, local_exchange

pytestmark = pytest.mark.slow
SPEED = 60.0
HOLD_MS = 15 * 60_000
TIMER_MS = 60_000
ENV = {
    "SLT_RISK__MAX_HOLD_MS": str(HOLD_MS),
    "SLT_RISK__STOP_LOSS_PCT": "0.1",
    "SLT_RISK__TAKE_PROFIT_PCT": "1.0",
    "SLT_RISK__PARTIAL_TAKE_PROFIT": "false",
    "SLT_RISK__TRAILING_ACTIVATION_PCT": "5",
    "SLT_RISK__SIGNAL_REVERSAL_EXIT": "false",
    "SLT_RISK__MIN_LEVERAGE": "1",
    # short averages: the first entry comes within minutes of market time
    "SLT_BASELINE__FAST": "5",
    "SLT_BASELINE__SLOW": "20",
}


async def _poll(url: str, query: Any, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        rows = await db_rows(url, query)
        if rows or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.5)


async def _status_shows(run: Run, database_url: str, symbol: str, entry_ms: int) -> None:
    """`slt status --json` from another process, while the run trades: the position with its
    entry time and time left, and both processes' recent heartbeats."""
    slt = Path(sys.executable).with_name("slt")
    env = {**os.environ, "SLT_DATA_DIR": str(run.data_dir), "SLT_DATABASE_URL": database_url}
    deadline = time.monotonic() + 30
    while True:
        proc = await asyncio.create_subprocess_exec(
            str(slt), "status", "--json", env=env, stdout=PIPE, stderr=PIPE, cwd=run.data_dir.parent
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        report = json.loads(out)
        held = [p for p in report["positions"] if p["symbol"] == symbol]
        roles = {p["role"] for p in report["processes"] if not p["stale"]}
        if held and roles == {"feed", "brain"} and held[0]["mark_price"] is not None:
            break
        assert time.monotonic() < deadline, report
        await asyncio.sleep(1)
    assert held[0]["entry_time_ms"] == entry_ms
    assert 0 < held[0]["time_left_ms"] <= HOLD_MS
    assert report["account"] is not None and report["run"]["venue"] == "local"


async def test_time_exit_fires_on_schedule_after_sigkill_and_a_lost_state_file(
    tmp_path: Path, start_slt_run: StartRun, database_url: str
) -> None:
    async with local_exchange(SPEED) as (ex, running):
        run = await start_slt_run(
            running.base_url, SPEED, {**ENV, "SLT_DATABASE_URL": database_url}
        )
        found = await run.until(r"brain +fill (slt-\S+-EN) (\w+) ", timeout=150)
        symbol = found.group(2)
        open_row = positions.c.symbol == symbol, positions.c.closed_ms.is_(None)
        stored = await _poll(database_url, select(positions).where(*open_row), 30)
        assert stored, f"no open {symbol} position in the database:\n{run.text()[-3000:]}"
        entry_ms = int(stored[0]["entry_time_ms"])
        await _status_shows(run, database_url, symbol, entry_ms)

        mark = len(run.text())
        os.kill(run.brain_pid(), signal.SIGKILL)
        for state in run.data_dir.glob("live/*/brain-state.json"):
            state.unlink()  # the worst case: the Brain's own file is gone too
        await run.until(r"started brain, pid \d+ \(restart 1\)", 60, mark)
        await run.until(r"database remembers \d+ open positions: .*" + symbol, 90, mark)
        await run.until(r"brain +brain ready", 90, mark)

        done = live_trades.c.symbol == symbol, live_trades.c.entry_time_ms == entry_ms
        trades = await _poll(database_url, select(live_trades).where(*done), 120)
        code = await run.stop()
        log = run.text()
        assert code == 0, log[-4000:]
        assert trades, f"the {symbol} position was never closed:\n{log[-4000:]}"
        trade = trades[0]
        assert trade["exit_reason"] == "time_exit", (trade, log[-3000:])
        held = int(trade["exit_time_ms"]) - entry_ms
        # the deadline is checked at every candle close and every 60 s timer tick
        assert HOLD_MS <= held <= HOLD_MS + 2 * TIMER_MS, held

        # nothing was sent twice, and every order that reached the exchange was on record
        # in the database first (the intent is written before the order leaves)
        sent = [o.client_id for by_id in ex.account.orders.values() for o in by_id.values()]
        sent += [a.client_algo_id for a in ex.account.algos.values()]
        ours = [cid for cid in sent if cid.startswith("slt-")]
        assert [cid for cid, n in Counter(ours).items() if n > 1] == []
        recorded = {r["client_id"] for r in await db_rows(database_url, select(orders.c.client_id))}
        assert set(ours) <= recorded, set(ours) - recorded
        entry_fills = await db_rows(
            database_url, select(fills).where(fills.c.client_id == found.group(1))
        )
        assert entry_fills, "the entry's fill is not in the database"
        assert "Traceback" not in log, log[-4000:]
