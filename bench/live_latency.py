"""Candle to order: the latency of the whole live path with 300 symbols, against the local exchange.

What is timed: from the moment the Feed process handles the WebSocket frame that closes a candle
to the moment the Brain process sends the order that candle's signal caused (the REST call
starts). In between: the Feed's firewall and gap check, the shared-memory ring, the Brain's
batch read, the strategy update of every symbol of that minute, the engine step, the
write-ahead state snapshot and the order's rule check. Each order carries the receipt time of
the candle that caused it (wall clock, comparable across processes); the Brain writes every
measured latency to `latency.json` at shutdown and this script reads them.

The setup is the real one: `slt.runtime` starts the Orchestrator, Feed and Brain processes
(spawned, shared memory, heartbeats) exactly as `slt run` does, against the local exchange
served in this process. The exchange replays 300 symbols named after 300 trading perpetuals
of the bundled rules (alphabetically, BTCUSDT first: the capture has no volumes); each plays a
real 1m price path from `../shared/data/market/` (17 symbols × 2 periods, at staggered
offsets), rescaled to about 5,000 ticks of its symbol (at least four times its minimum price)
and rounded to that tick size, so every price is one the exchange could quote. The baseline
strategy runs with shorter EMAs (5/20 bars, half an ATR band; about 8 signals a minute over
the 300 symbols, against about 1 with the defaults) and up to 10 positions of at most 9 % of
equity in margin each (so ten fit), held at most 20 minutes, with the daily drawdown halt and
the loss cooldown switched off, so that entries, rotations and exits are frequent enough to
time and keep coming for the whole run. Trading is timed from the Brain's first
processed candle (process start-up and warm-up are not counted). There is no peer: nothing
else runs this path.

    .venv/bin/python bench/live_latency.py [--symbols 300] [--speed 60] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import COMMON_START_MS, MARKET_DIR, SEGMENT_DIRS, read_candles, round_to_tick
from slt.config import load_settings
from slt.domain import CandleSeries
from slt.domain.candle import MINUTE_MS
from slt.rules import ExchangeRules, bundled_rules
from slt.runtime.children import default_plans
from slt.runtime.heartbeat import HeartbeatBoard
from slt.runtime.orchestrator import supervise
from slt.runtime.shm import attach_shm
from slt.runtime.spec import RunSpec, VenueSpec
from slt.runtime.supervisor import SupervisorPolicy
from slt.storage.engine import describe_url
from slt.venues.binance.urls import local
from slt.venues.local.assemble import build_local_exchange, start_local_exchange
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET


def symbols_for(rules: ExchangeRules, n: int) -> list[str]:
    """`n` trading USDT perpetuals of the bundled rules (alphabetical: the capture has no
    volumes), BTCUSDT first."""
    names = sorted(s for s in rules if rules.get(s).is_trading)
    names.remove("BTCUSDT")
    return ["BTCUSDT", *names][:n]


def market(rules: ExchangeRules, names: Sequence[str], length: int) -> dict[str, CandleSeries]:
    files = sorted(p for d in SEGMENT_DIRS for p in (MARKET_DIR / d).glob("*-1m.csv.gz"))
    if not files:
        raise SystemExit(f"no 1m candles under {MARKET_DIR}: this benchmark needs ../shared/data")
    frames = [f for f in (read_candles(p) for p in files) if len(f) >= 2 * length]
    out = {}
    for k, name in enumerate(names):
        frame = frames[k % len(frames)]
        offset = (k // len(frames)) * 997 % (len(frame) - length)
        part = frame.iloc[offset : offset + length]
        r = rules.get(name)
        level = max(float(r.tick_size) * 5000, float(r.min_price) * 4)
        ohlc = part[["open", "high", "low", "close"]].to_numpy(np.float64)
        ohlc = round_to_tick(ohlc * (level / ohlc[0, 0]), r.tick_size)
        out[name] = CandleSeries(
            name,
            "1m",
            COMMON_START_MS + MINUTE_MS * np.arange(length, dtype=np.int64),
            *(np.ascontiguousarray(ohlc[:, j]) for j in range(4)),
            part["volume"].to_numpy(np.float64),
        )
    return out


async def run(
    n_symbols: int,
    speed: float,
    seconds: float,
    data_dir: Path,
    log_level: str,
    database_url: str | None = None,
) -> Path:
    rules = bundled_rules()
    names = symbols_for(rules, n_symbols)
    length = int(seconds * speed / 60) + 400
    series = market(rules, names, length)
    ex = build_local_exchange(series, rules, speed=speed, start_ms=COMMON_START_MS + 60 * MINUTE_MS)
    running = await start_local_exchange(ex)
    settings = load_settings(
        data_dir=data_dir,
        database_url=database_url,
        baseline={"fast": 5, "slow": 20, "band_atr": 0.5, "min_atr_pct": 0.0, "max_atr_pct": 1.0},
        live={"warmup_bars": 0},
        risk={
            "max_positions": 10,
            "max_margin_fraction": 0.09,
            "max_hold_ms": 20 * MINUTE_MS,
            "daily_drawdown_halt": 1.0,
            "max_consecutive_losses": 1_000,
            "cooldown_ms": 0,
        },
    )
    tag = uuid.uuid4().hex[:8]
    spec = RunSpec(
        settings=settings,
        venue=VenueSpec("local", local(running.port), DEFAULT_API_KEY, DEFAULT_API_SECRET, speed),
        symbols=tuple(names),
        interval="1m",
        ring_name=f"slt-bench-ring-{tag}",
        ring_capacity=65_536,
        heartbeat_name=f"slt-bench-beat-{tag}",
        log_level=log_level,
        run_id=tag,
    )
    stop = asyncio.Event()

    async def stop_later() -> None:
        """Trade for `seconds` counted from the Brain's first processed candle (process start-up
        and warm-up are not part of the figure)."""
        while True:
            await asyncio.sleep(0.5)
            try:
                board = HeartbeatBoard(attach_shm(spec.heartbeat_name), owner=False)
            except FileNotFoundError:
                continue
            try:
                if board.read("brain").stats["candles_processed"] > 0:
                    break
            finally:
                board.close()
        await asyncio.sleep(seconds)
        stop.set()

    timer = asyncio.create_task(stop_later())
    started = time.monotonic()
    code = await supervise(
        spec,
        default_plans(),
        SupervisorPolicy(status_every_s=3600),
        stop=stop,
        handle_signals=False,
    )
    timer.cancel()
    await running.close()
    print(f"ran {time.monotonic() - started:.0f} s (exit code {code})")
    return data_dir / "live" / f"local-{tag}" / "latency.json"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--speed", type=float, default=60.0, help="market seconds per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="wall seconds of trading")
    parser.add_argument("--log-level", default="WARNING", help="the processes' log level")
    parser.add_argument(
        "--database-url",
        help="store to this database instead of a fresh SQLite file (e.g. an empty PostgreSQL "
        "database: postgresql://user@127.0.0.1:5432/slt_bench)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="slt-bench-") as tmp:
        path = asyncio.run(
            run(
                args.symbols,
                args.speed,
                args.seconds,
                Path(tmp),
                args.log_level,
                args.database_url,
            )
        )
        if not path.is_file():
            print(f"no latencies recorded ({path} missing): no order was sent")
            return 1
        ms = np.array([x for line in path.read_text().splitlines() for x in json.loads(line)])
    if ms.size == 0:
        print("no order was sent: nothing to time")
        return 1
    p50, p99 = np.percentile(ms, [50, 99])
    url = args.database_url
    print(f"database: {'a fresh SQLite file' if url is None else describe_url(url)}")
    print(
        f"symbols {args.symbols}, replay speed {args.speed:g}× (one candle per symbol every "
        f"{60 / args.speed:.2f} s), orders timed {ms.size}"
    )
    print(
        f"candle → order latency: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {ms.max():.2f} ms "
        f"(target p99 < 20 ms: {'met' if p99 < 20 else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
