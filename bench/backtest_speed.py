"""Backtest throughput: our full engine against backtesting.py on long 1m series.

Run it from the repository root with `python bench/backtest_speed.py` (see bench/README.md).

What is timed:

* ours — one `run_backtest` over all symbols at once (one shared account, the engine, risk
  layer and simulated venue, the baseline strategy's signal computation included), with the
  default settings, and the report's statistics (`compute_metrics`) computed from its result.
  A warm-up run on a short slice comes first, so one-off compilation (numba) and import costs
  are not counted.
* backtesting.py — one `Backtest.run` per symbol, times summed, fed the SAME direction array
  our baseline produced for that symbol: buy on +1, sell on −1, reversing
  (`exclusive_orders=True`), with the default stop-loss/take-profit distances as SL/TP orders and
  the same taker fee and slippage. It is the closest equivalent backtesting.py can express; it
  has no leverage, partial exits, trailing or time exits, portfolio limit or funding, so its
  trade count is not expected to equal ours. Building its DataFrame is not timed.

Both are timed over the same number of rounds (`--runs`, five by default). Each round times one
run of ours and then one run of backtesting.py over every symbol, so a spell of load on the
shared machine falls on both sides alike; every run starts from fresh state (a new strategy,
account and venue for ours, with the memos of float/Decimal conversions and liquidation solves
emptied, so no run profits from an earlier one; a new `Backtest` per symbol for the peer). The
figure reported is the median of each side and the ratio of the medians; every round is printed.

The series are real candles stitched into longer ones (see bench/_data.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy
from rich.console import Console
from rich.table import Table

from _data import MARKET_DIR, ohlc_frame, stitched_series
from slt.backtest.driver import run_backtest
from slt.backtest.metrics import compute_metrics
from slt.backtest.result import BacktestResult
from slt.config import Settings, load_settings
from slt.domain import CandleSeries, numbers
from slt.rules import ExchangeRules, bundled_rules, margin_fast
from slt.strategy.baseline import EmaAtrBaseline

SYMBOLS = ("BTCUSDT", "ADAUSDT", "DOGEUSDT", "DOTUSDT", "ETCUSDT", "LTCUSDT", "XLMUSDT", "XMRUSDT")
"""Every symbol with 1m files in both periods, so each series is stitched from real candles."""
CANDLES = 150_000
"""Per symbol: about 104 days of 1m candles, more than any single real file holds."""
WARMUP_CANDLES = 5_000
RUNS = 5
"""Timed rounds per side; the medians are reported (single runs scatter with the machine's load)."""
WARM_ROUNDS = 1
"""Full rounds of both sides run first and not counted: the first full-size run of a process
pays for growing its heap (ours measured about 20 % slower than the runs after it), so both
sides are timed once their process has done the whole job once."""
PEER_CASH = 1e9
"""backtesting.py sizes in whole units: a large account keeps BTC orders from rounding to 0."""
PEER_SIZE = 0.5
"""Fraction of backtesting.py's equity per entry (sizing does not affect its speed)."""


class _FollowSignals(Strategy):
    """Trades a precomputed direction array with fixed-distance stop-loss and take-profit."""

    direction: np.ndarray | None = None
    sl_pct = 0.01
    tp_pct = 0.02

    def init(self) -> None:
        self.signal = self.I(lambda: self.direction, name="direction", plot=False)

    def next(self) -> None:
        d = self.signal[-1]
        if d == 0:
            return
        close = self.data.Close[-1]
        if d > 0:
            self.buy(size=PEER_SIZE, sl=close * (1 - self.sl_pct), tp=close * (1 + self.tp_pct))
        else:
            self.sell(size=PEER_SIZE, sl=close * (1 + self.sl_pct), tp=close * (1 - self.tp_pct))


@dataclass(frozen=True, slots=True)
class PeerRun:
    seconds: float
    trades: int


def run_peer(frame: pd.DataFrame, direction: np.ndarray, settings: Settings) -> PeerRun:
    """One backtesting.py run; only `Backtest.run` is timed."""
    bt = Backtest(
        frame,
        _FollowSignals,
        cash=PEER_CASH,
        commission=settings.fees.taker_rate,
        spread=settings.fees.slippage_pct,
        trade_on_close=False,
        exclusive_orders=True,
        finalize_trades=True,
    )
    with warnings.catch_warnings():
        # Its stats code uses a deprecated pandas API; orders it cancels for margin also warn.
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        stats = bt.run(
            direction=direction.astype(np.float64),
            sl_pct=settings.risk.stop_loss_pct,
            tp_pct=settings.risk.take_profit_pct,
        )
        seconds = time.perf_counter() - started
    return PeerRun(seconds, len(stats["_trades"]))


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """`section.key=value` pairs into the nested dict `load_settings` takes (values as JSON)."""
    nested: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects section.key=value, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        *path, leaf = key.split(".")
        node = nested
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def load_series(
    symbols: Sequence[str], candles: int, rules: ExchangeRules
) -> dict[str, CandleSeries]:
    return {s: stitched_series(s, candles, rules.get(s).tick_size) for s in symbols}


def forget_memos() -> None:
    """Empty the process-wide memos our engine fills while it runs (float/Decimal conversions,
    liquidation solves), so a timed run does not profit from the runs before it. The tables
    derived once from the exchange rules stay, like the compiled numba code."""
    numbers.clear_memos()
    margin_fast.clear_memo()


def warm_up_ours(
    series: Mapping[str, CandleSeries], settings: Settings, rules: ExchangeRules
) -> None:
    """One untimed run on the first candles: numba compilation and first imports."""
    warm = {s: ser.slice(0, min(WARMUP_CANDLES, len(ser))) for s, ser in series.items()}
    run_backtest(warm, EmaAtrBaseline(settings.baseline), settings, rules)


def time_ours(
    series: Mapping[str, CandleSeries], settings: Settings, rules: ExchangeRules
) -> tuple[float, BacktestResult]:
    """One timed `run_backtest` from fresh state (a new strategy object, emptied memos), with
    the report's statistics computed from its result: backtesting.py's `run` computes its
    statistics too (about 5 % of its time), so both sides are timed to a finished summary."""
    strategy = EmaAtrBaseline(settings.baseline)
    forget_memos()
    started = time.perf_counter()
    result = run_backtest(series, strategy, settings, rules)
    compute_metrics(result)
    return time.perf_counter() - started, result


def time_peer(
    series: Mapping[str, CandleSeries], directions: Mapping[str, np.ndarray], settings: Settings
) -> dict[str, PeerRun]:
    """One backtesting.py run per symbol (frames built outside the timing, as before)."""
    return {
        sym: run_peer(ohlc_frame(ser), directions[sym], settings) for sym, ser in series.items()
    }


def same_result(a: BacktestResult, b: BacktestResult) -> bool:
    """Repeated runs must trade identically; a difference would make the timings meaningless."""
    return (
        a.trades == b.trades
        and a.final_balance == b.final_balance
        and dict(a.rejected_orders) == dict(b.rejected_orders)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--symbols", nargs="+", default=list(SYMBOLS))
    parser.add_argument("--candles", type=int, default=CANDLES, help="1m candles per symbol")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="settings override, e.g. --set risk.max_positions=5 (default settings otherwise)",
    )
    parser.add_argument(
        "--runs", type=int, default=RUNS, help="timed rounds per side (medians are reported)"
    )
    parser.add_argument(
        "--warm-rounds",
        type=int,
        default=WARM_ROUNDS,
        help="untimed full rounds of both sides before the timed ones",
    )
    args = parser.parse_args(argv)
    console = Console()
    if not MARKET_DIR.is_dir():
        console.print(f"[red]real market data not found at {MARKET_DIR}[/red]")
        return 2

    settings = load_settings(**parse_overrides(args.overrides))
    rules = bundled_rules()
    started = time.perf_counter()
    series = load_series(args.symbols, args.candles, rules)
    total = sum(len(s) for s in series.values())
    console.print(
        f"Data: {len(series)} symbols × {args.candles:,} 1m candles = {total:,} candles, real "
        f"candles stitched into continuous series ({time.perf_counter() - started:.1f} s to load)"
    )
    if args.overrides:
        console.print(f"Settings: defaults with {', '.join(args.overrides)}")
    else:
        console.print("Settings: defaults")

    strategy = EmaAtrBaseline(settings.baseline)
    strategy.batch(next(iter(series.values())).slice(0, WARMUP_CANDLES))  # compile first
    started = time.perf_counter()
    directions = {s: strategy.batch(ser).direction for s, ser in series.items()}
    signal_s = time.perf_counter() - started

    runs = max(1, args.runs)
    warm_rounds = max(0, args.warm_rounds)
    console.print(
        f"Warm-up runs on {WARMUP_CANDLES:,} candles/symbol first (compile time not counted) and "
        f"{warm_rounds} full untimed round(s) of both sides, then {runs} rounds, each one timed "
        "run_backtest over all symbols (ours) and one Backtest.run per symbol on the same "
        "direction arrays (backtesting.py)…"
    )
    first = next(iter(series))
    warm = min(WARMUP_CANDLES, len(series[first]))
    run_peer(ohlc_frame(series[first].slice(0, warm)), directions[first][:warm], settings)
    ours_runs: list[float] = []
    peer_runs: list[dict[str, PeerRun]] = []
    result: BacktestResult | None = None
    for k in range(-warm_rounds, runs):
        try:
            if k == -warm_rounds:
                warm_up_ours(series, settings, rules)
            ours_k, result_k = time_ours(series, settings, rules)
        except Exception as exc:  # a benchmark reports a broken run instead of a 1000-line trace
            tail = "".join(traceback.format_exception(exc, limit=-6))
            console.print(
                f"[red]our engine failed ({type(exc).__name__}); last frames:[/red]\n{tail}\n"
                "That is an engine bug to report; --set SECTION.KEY=VALUE can steer the run "
                "around the failing code path meanwhile."
            )
            return 1
        if result is not None and not same_result(result, result_k):
            console.print("[red]our repeated runs traded differently[/red]")
            return 1
        result = result_k
        peer_round = time_peer(series, directions, settings)
        peer_k = sum(p.seconds for p in peer_round.values())
        label = (
            f"warm-up round {k + warm_rounds + 1} (not counted)"
            if k < 0
            else f"round {k + 1}/{runs}"
        )
        console.print(
            f"  {label}: ours {ours_k:.3f} s, backtesting.py {peer_k:.2f} s, "
            f"ratio {peer_k / ours_k:.2f}×"
        )
        if k >= 0:
            ours_runs.append(ours_k)
            peer_runs.append(peer_round)
    assert result is not None
    ours_s = statistics.median(ours_runs)
    peer_totals = [sum(p.seconds for p in r.values()) for r in peer_runs]
    peer_s = statistics.median(peer_totals)
    peer = {
        sym: PeerRun(
            statistics.median(r[sym].seconds for r in peer_runs), peer_runs[-1][sym].trades
        )
        for sym in series
    }

    ours_trades = Counter(t.symbol for t in result.trades)
    per_symbol = Table(title="Per symbol")
    for col in ("symbol", "candles", "signals", "trades (ours)", "trades (peer)", "peer s (med)"):
        per_symbol.add_column(col, justify="right")
    for sym, ser in series.items():
        per_symbol.add_row(
            sym,
            f"{len(ser):,}",
            f"{int(np.count_nonzero(directions[sym])):,}",
            f"{ours_trades[sym]:,}",
            f"{peer[sym].trades:,}",
            f"{peer[sym].seconds:.2f}",
        )
    console.print(per_symbol)

    summary = Table(title=f"Backtest speed, median of {runs} runs each")
    for col in ("engine", "candles", "seconds", "candles/s", "trades"):
        summary.add_column(col, justify="right")
    summary.add_row(
        "ours",
        f"{total:,}",
        f"{ours_s:.3f}",
        f"{total / ours_s:,.0f}",
        f"{len(result.trades):,}",
    )
    summary.add_row(
        "backtesting.py",
        f"{total:,}",
        f"{peer_s:.2f}",
        f"{total / peer_s:,.0f}",
        f"{sum(p.trades for p in peer.values()):,}",
    )
    console.print(summary)
    console.print(
        f"runs (s): ours {' '.join(f'{t:.3f}' for t in ours_runs)}; "
        f"backtesting.py {' '.join(f'{t:.2f}' for t in peer_totals)}"
    )
    in_market = result.in_market_ms / (result.end_ms - result.start_ms)
    console.print(
        f"speed ratio ours/peer (candles/s, ratio of the medians): {peer_s / ours_s:.2f}× "
        f"(per round {min(p / o for p, o in zip(peer_totals, ours_runs, strict=True)):.2f}–"
        f"{max(p / o for p, o in zip(peer_totals, ours_runs, strict=True)):.2f}×)\n"
        f"ours includes the baseline signal computation ({signal_s:.2f} s when timed alone); "
        f"at least one position was open on {in_market:.0%} of the time steps\n"
        f"ours: final balance {result.final_balance:.2f} USDT from "
        f"{result.initial_balance:.2f}, rejected orders {dict(result.rejected_orders) or 'none'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
