"""Feature-layer speed: our 12-feature batch against smartmoneyconcepts, and the live update cost.

Run it from the repository root with `python bench/features_speed.py` (see bench/README.md).

What is timed:

* ours, batch — `compute_features` over one long real BTCUSDT 1m series (all twelve features:
  ATR, pivots, structure, order blocks, FVGs, liquidity sweeps, volume, returns, the 5m/15m/1h
  trend). A warm-up call on a short slice comes first, so numba compilation is not counted; the
  figure is the median of three timed calls.
* smartmoneyconcepts — its whole structural pipeline on the same candles, called the way its
  README shows: `swing_highs_lows` (swing_length 5, our pivots' width), then `fvg`, `bos_choch`,
  `ob` and `liquidity` on that swing output. Building its DataFrame is not timed. It is one
  call; its run time grows faster than the row count (several steps scan the rest of the series
  for every event), so a run on a slice extrapolated linearly (`--peer-rows`) flatters it.
* ours, incremental — `MultiSymbolFeatures` following 300 symbols, each warmed up with a few
  days of real 1m history, then fed one new closed candle per symbol per round: the time of
  one `update` call with all 300 candles, over 200 rounds (mean, median, p99, max). Building
  the `Candle` objects, which the feed delivers, is not timed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from _data import COMMON_START_MS, MARKET_DIR, SEGMENT_DIRS, read_candles, stitched_series
from slt.domain import CandleSeries
from slt.domain.candle import MINUTE_MS
from slt.features import DEFAULT_PARAMS, MultiSymbolFeatures, compute_features
from slt.rules import bundled_rules

os.environ.setdefault("SMC_CREDIT", "0")  # the peer prints a banner on import otherwise
from smartmoneyconcepts import smc

SYMBOL = "BTCUSDT"
CANDLES = 120_000
"""About 83 days of 1m candles: the 2023 and 2025 files stitched (bench/_data.py)."""
WARMUP_CANDLES = 5_000
SWING_LENGTH = 5
LIVE_SYMBOLS = 300
LIVE_HISTORY = 3_200
"""Warm-up candles per live symbol: enough for 50 completed 1h candles (the slow EMA)."""
LIVE_ROUNDS = 200


def peer_frame(series: CandleSeries) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "open": series.open,
            "high": series.high,
            "low": series.low,
            "close": series.close,
            "volume": series.volume,
        }
    )


def run_peer(frame: pd.DataFrame) -> dict[str, int]:
    """The whole structural pipeline; returns the number of objects each call found."""
    swings = smc.swing_highs_lows(frame, swing_length=SWING_LENGTH)
    fvg = smc.fvg(frame)
    bos = smc.bos_choch(frame, swings)
    ob = smc.ob(frame, swings)
    liq = smc.liquidity(frame, swings)
    return {
        "swings": int(swings["HighLow"].notna().sum()),
        "fvg": int(fvg["FVG"].notna().sum()),
        "bos/choch": int((bos["BOS"].notna() | bos["CHOCH"].notna()).sum()),
        "ob": int(ob["OB"].notna().sum()),
        "liquidity": int(liq["Liquidity"].notna().sum()),
    }


def time_ours(series: CandleSeries, repeats: int = 3) -> tuple[float, np.ndarray]:
    compute_features(series.slice(0, min(WARMUP_CANDLES, len(series))))
    times = []
    out = np.empty(0)
    for _ in range(repeats):
        started = time.perf_counter()
        out = compute_features(series)
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def live_histories(n_symbols: int, length: int) -> list[CandleSeries]:
    """`n_symbols` real 1m histories on one time grid: every 1m file, at staggered offsets."""
    files = sorted(p for d in SEGMENT_DIRS for p in (MARKET_DIR / d).glob("*-1m.csv.gz"))
    frames = [read_candles(p) for p in files]
    frames = [f for f in frames if len(f) >= length * 2]
    out = []
    for k in range(n_symbols):
        frame = frames[k % len(frames)]
        offset = (k // len(frames)) * 997 % (len(frame) - length)
        part = frame.iloc[offset : offset + length]
        out.append(
            CandleSeries(
                f"SYM{k:03d}USDT",
                "1m",
                COMMON_START_MS + MINUTE_MS * np.arange(length, dtype=np.int64),
                *(part[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")),
            )
        )
    return out


def time_live(n_symbols: int, history: int, rounds: int) -> tuple[np.ndarray, float]:
    """Seconds per `update` round, and the warm-up time of all symbols."""
    series = live_histories(n_symbols, history + rounds + 1)
    live = MultiSymbolFeatures([s.symbol for s in series], DEFAULT_PARAMS)
    started = time.perf_counter()
    for s in series:
        live.replay(s.slice(0, history))
    warm_s = time.perf_counter() - started
    batches = [[s.candle(history + r) for s in series] for r in range(rounds + 1)]
    live.update(batches[0])  # a first, untimed round after the replays: no lazy set-up counted
    seconds = np.empty(rounds)
    for r, candles in enumerate(batches[1:]):
        started = time.perf_counter()
        result = live.update(candles)
        seconds[r] = time.perf_counter() - started
        if len(result) != n_symbols:
            raise RuntimeError(f"round {r}: {len(result)} of {n_symbols} symbols updated")
    return seconds, warm_s


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--candles", type=int, default=CANDLES, help="1m candles for the batch")
    parser.add_argument(
        "--peer-rows",
        type=int,
        default=None,
        help="time the peer on the first N candles only and extrapolate linearly (flatters it)",
    )
    parser.add_argument("--symbols", type=int, default=LIVE_SYMBOLS, help="live symbols")
    parser.add_argument("--rounds", type=int, default=LIVE_ROUNDS, help="live update rounds")
    args = parser.parse_args(argv)
    console = Console()
    if not MARKET_DIR.is_dir():
        console.print(f"[red]real market data not found at {MARKET_DIR}[/red]")
        return 2

    started = time.perf_counter()
    tick = bundled_rules().get(SYMBOL).tick_size
    series = stitched_series(SYMBOL, args.candles, tick)
    n = len(series)
    console.print(
        f"Data: {SYMBOL} {n:,} 1m candles, real candles stitched into one continuous series "
        f"({time.perf_counter() - started:.1f} s to load)"
    )

    console.print(
        f"Ours: compute_features, warm-up on {WARMUP_CANDLES:,} candles first (compile time "
        "not counted), then the median of 3 timed calls…"
    )
    ours_s, features = time_ours(series)
    defined = np.isfinite(features).mean(axis=0)

    peer_n = n if args.peer_rows is None else min(args.peer_rows, n)
    console.print(
        f"smartmoneyconcepts {smc.__version__}: swing_highs_lows({SWING_LENGTH}) + fvg + "
        f"bos_choch + ob + liquidity on {peer_n:,} candles, one call each…"
    )
    run_peer(peer_frame(series.slice(0, 2_000)))
    frame = peer_frame(series.slice(0, peer_n))
    started = time.perf_counter()
    found = run_peer(frame)
    peer_s = time.perf_counter() - started
    extrapolated = peer_n < n
    peer_rate = peer_n / peer_s

    table = Table(title="Batch features")
    for col in ("implementation", "candles", "seconds", "candles/s"):
        table.add_column(col, justify="right")
    table.add_row("ours (12 features)", f"{n:,}", f"{ours_s:.3f}", f"{n / ours_s:,.0f}")
    table.add_row(
        "smartmoneyconcepts" + (" (extrapolated)" if extrapolated else ""),
        f"{peer_n:,}",
        f"{peer_s:.2f}",
        f"{peer_rate:,.0f}",
    )
    console.print(table)
    console.print(
        f"ours: {features.shape[1]} columns, each defined on {defined.min():.1%}–"
        f"{defined.max():.1%} of the rows; peer found "
        + ", ".join(f"{k} {v:,}" for k, v in found.items())
    )
    console.print(f"speed ratio ours/peer (candles/s): {n / ours_s / peer_rate:,.0f}×")
    if extrapolated:
        console.print(
            f"[yellow]the peer ran on the first {peer_n:,} candles only; its rate is assumed "
            f"to hold for all {n:,}. Its cost grows faster than linearly, so the real ratio on "
            "the full series is higher.[/yellow]"
        )

    console.print(
        f"Live: MultiSymbolFeatures with {args.symbols} symbols, each replayed "
        f"{LIVE_HISTORY:,} real 1m candles, then {args.rounds} rounds of one closed candle per "
        "symbol…"
    )
    seconds, warm_s = time_live(args.symbols, LIVE_HISTORY, args.rounds)
    ms = seconds * 1e3
    live = Table(title=f"One closed candle for {args.symbols} symbols (one update call)")
    for col in ("rounds", "mean ms", "median ms", "p99 ms", "max ms", "µs per symbol"):
        live.add_column(col, justify="right")
    live.add_row(
        f"{ms.size}",
        f"{ms.mean():.3f}",
        f"{np.median(ms):.3f}",
        f"{np.percentile(ms, 99):.3f}",
        f"{ms.max():.3f}",
        f"{ms.mean() * 1e3 / args.symbols:.2f}",
    )
    console.print(live)
    console.print(
        f"warm-up replay of {args.symbols} × {LIVE_HISTORY:,} candles took {warm_s:.2f} s "
        "(not part of the per-round figures)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
