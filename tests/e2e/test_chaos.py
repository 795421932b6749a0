"""Chaos: `slt run` trades while random faults hit it for a bounded time — a Brain or Feed
killed with SIGKILL, the market and user-data WebSockets dropped, and (on PostgreSQL) the
database link cut — and afterwards nothing is duplicated and nothing is lost:

* no client order id reached the exchange twice;
* every order the exchange holds from us was recorded (as an intent) before it was sent;
* every execution the exchange made for the account is in the database's fills, exactly once
  (by the venue's trade id), including fills that happened while the Brain was dead;
* the run stops on SIGTERM with exit code 0 and the ledger's journal drained.

The fault sequence comes from a seeded generator; the seed is in the failure message, and
`SLT_CHAOS_SEED` replays a given one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from slt.storage.trading_schema import fills, orders

from ..conftest import TcpProxy
from .conftest import Run, StartRun, db_rows, local_exchange

pytestmark = pytest.mark.slow
SPEED = 120.0
CHAOS_S = 40.0
KILLS_PER_ROLE = 2  # well inside the restart budget (5 in 10 minutes)
ENV = {
    # short averages: entries and exits from the first minutes on
    "SLT_BASELINE__FAST": "5",
    "SLT_BASELINE__SLOW": "20",
    "SLT_RISK__MAX_HOLD_MS": str(20 * 60_000),
    "SLT_RISK__COOLDOWN_MS": "0",
}


async def _kill(run: Run, role: str, note: list[str]) -> None:
    pids = re.findall(rf"started {role}, pid (\d+)", run.text())
    mark = len(run.text())
    os.kill(int(pids[-1]), signal.SIGKILL)
    note.append(f"kill {role}")
    await run.until(rf"started {role}, pid \d+ \(restart \d+\)", 90, mark)
    if role == "brain":
        await run.until(r"brain +brain ready", 90, mark)


async def _chaos(
    run: Run, ex: Any, proxy: TcpProxy | None, rng: random.Random, note: list[str]
) -> None:
    kills: Counter[str] = Counter()
    deadline = time.monotonic() + CHAOS_S
    while time.monotonic() < deadline:
        await asyncio.sleep(rng.uniform(2.0, 5.0))
        faults = ["ws"]
        faults += [r for r in ("brain", "feed") if kills[r] < KILLS_PER_ROLE]
        if proxy is not None:
            faults.append("db")
        fault = rng.choice(faults)
        if fault in ("brain", "feed"):
            kills[fault] += 1
            await _kill(run, fault, note)
        elif fault == "ws":
            note.append("drop websockets")
            ex.faults.drop_ws_connections = True
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            ex.faults.drop_ws_connections = False
        else:
            assert proxy is not None
            note.append("cut database")
            await proxy.stop()
            await asyncio.sleep(rng.uniform(2.0, 5.0))
            await proxy.start()


async def test_random_faults_duplicate_no_order_and_lose_no_fill(
    tmp_path: Path, start_slt_run: StartRun, database_url: str
) -> None:
    seed = int(os.environ.get("SLT_CHAOS_SEED") or random.SystemRandom().randrange(1 << 30))
    rng = random.Random(seed)
    note: list[str] = []
    proxy: TcpProxy | None = None
    run_url = database_url
    if database_url.startswith("postgresql"):
        url = make_url(database_url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.start()
        run_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        async with local_exchange(SPEED) as (ex, running):
            run = await start_slt_run(running.base_url, SPEED, {**ENV, "SLT_DATABASE_URL": run_url})
            await run.until(r"brain +fill slt-", timeout=150)
            await _chaos(run, ex, proxy, rng, note)
            await asyncio.sleep(4)  # the last restart settles, answers arrive
            code = await run.stop(30)
            log = run.text()
            context = f"seed {seed}, faults: {', '.join(note)}\n{log[-4000:]}"
            assert code == 0, context

            sent = [o for by_id in ex.account.orders.values() for o in by_id.values()]
            ours = [o.client_id for o in sent if o.client_id.startswith("slt-")]
            ours += [
                a.client_algo_id
                for a in ex.account.algos.values()
                if a.client_algo_id.startswith("slt-")
            ]
            assert ours, context
            twice = [cid for cid, n in Counter(ours).items() if n > 1]
            assert twice == [], context
            recorded = {r["client_id"] for r in await db_rows(database_url, select(orders))}
            assert set(ours) <= recorded, (set(ours) - recorded, context)

            executed = {
                (t.symbol, t.trade_id) for trades in ex.account.trades.values() for t in trades
            }
            stored = await db_rows(database_url, select(fills.c.symbol, fills.c.trade_id))
            stored_keys = [(r["symbol"], r["trade_id"]) for r in stored]
            assert len(stored_keys) == len(set(stored_keys)), context
            assert executed == set(stored_keys), (executed ^ set(stored_keys), context)
    finally:
        if proxy is not None:
            with contextlib.suppress(AssertionError):  # already stopped
                await proxy.stop()
    journals = list((tmp_path / "data" / "live").glob("*/ledger-journal.jsonl"))
    # a journal exists once a write had to wait for the database; it must be drained
    assert all(j.read_bytes() == b"" for j in journals), note
