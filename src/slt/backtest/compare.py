"""A strategy's backtest beside three baselines on the same candles, with a plain verdict.

A result alone says little: +5 % is poor when holding the coins made +20 %, and a Sharpe of 1
is no skill when random entries managed by the same exits score the same. So every strategy is
run next to

* buy-and-hold of the same symbols (`slt.backtest.benchmarks.buy_and_hold`),
* random entries at about the strategy's own signal rate, through the same engine, risk layer,
  fees and exits (`slt.strategy.random_entries.RandomEntries`), and
* the EMA/ATR baseline strategy, built exactly as `slt backtest` builds it,

and the verdict says, baseline by baseline, whether the strategy beat it on net total return
AND on the daily Sharpe ratio. Beating means strictly better on both; an undefined Sharpe on
either side cannot be compared, so it never counts as a win.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from slt.backtest.benchmarks import buy_and_hold
from slt.backtest.driver import Progress, run_backtest
from slt.backtest.metrics import Metrics, compute_metrics
from slt.backtest.report.format import fmt_pct, fmt_ratio
from slt.backtest.result import BacktestResult
from slt.config import Settings
from slt.domain import CandleSeries
from slt.rules import ExchangeRules
from slt.strategy.base import Strategy
from slt.strategy.baseline import EmaAtrBaseline
from slt.strategy.random_entries import RandomEntries, matching_rate

BUY_AND_HOLD = "buy-and-hold"
RANDOM = "random entries"
BASELINE = "EMA/ATR baseline"
RANDOM_SEED = 20_240_101
"""Fixed so two comparisons of the same data draw the same random entries."""
_ENGINE_RUNS = 3
_COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}


@dataclass(frozen=True)
class BaselineRow:
    """One reference run: its label, its result and its metrics."""

    name: str
    result: BacktestResult
    metrics: Metrics


@dataclass(frozen=True, slots=True)
class Versus:
    """The strategy against one baseline. `beat_sharpe` is None when either Sharpe is
    undefined (too few days, a flat curve): such a pair cannot be ranked."""

    name: str
    strategy_return: float | None
    baseline_return: float | None
    strategy_sharpe: float | None
    baseline_sharpe: float | None
    beat_return: bool
    beat_sharpe: bool | None

    @property
    def beaten(self) -> bool:
        return self.beat_return and self.beat_sharpe is True


@dataclass(frozen=True, slots=True)
class Verdict:
    versus: tuple[Versus, ...]
    text: str

    @property
    def beats_all(self) -> bool:
        return bool(self.versus) and all(v.beaten for v in self.versus)


@dataclass(frozen=True)
class Comparison:
    """The strategy under test and its baselines, all on the same candles and settings."""

    strategy_name: str
    result: BacktestResult
    metrics: Metrics
    baselines: tuple[BaselineRow, ...]
    verdict: Verdict
    random_rate: float
    """Fraction of bars on which the random entries fired a signal, matched to the strategy."""

    def rows(self) -> tuple[BaselineRow, ...]:
        """The strategy first, then the baselines: the rows of the comparison table."""
        return (BaselineRow(self.strategy_name, self.result, self.metrics), *self.baselines)


def run_comparison(
    series: Mapping[str, CandleSeries],
    strategy: Strategy,
    settings: Settings,
    rules: ExchangeRules,
    *,
    progress: Progress | None = None,
    run_id: str | None = None,
    random_seed: int = RANDOM_SEED,
    start_ms: int | None = None,
) -> Comparison:
    """Backtest `strategy` and the three baselines on `series` with the same `settings`.

    The random entries' rate is `matching_rate` of the strategy's batch signals, taken before
    its run, so a self-learning strategy is matched at the model it starts from (its run changes
    it). `progress(done, total)` reports over the three engine runs together; buy-and-hold is
    computed in one vectorised pass and needs no progress. With `start_ms`, every run starts
    there and earlier candles only warm the strategies up (`run_backtest`'s `start_ms`).
    """
    symbols = sorted(series)
    first = {
        s: 0 if start_ms is None else int(np.searchsorted(series[s].open_time, start_ms))
        for s in symbols
    }
    rate = matching_rate({s: strategy.batch(series[s]).slice(first[s]) for s in symbols})
    name = strategy.name
    main = run_backtest(
        series,
        strategy,
        settings,
        rules,
        run_id=run_id,
        progress=_stage(progress, 0),
        start_ms=start_ms,
    )
    baseline = run_backtest(
        series,
        baseline_strategy(series, settings),
        settings,
        rules,
        run_id=f"{main.run_id}-baseline",
        progress=_stage(progress, 1),
        start_ms=start_ms,
    )
    random = run_backtest(
        series,
        RandomEntries(rate, random_seed, atr_period=settings.baseline.atr_period),
        settings,
        rules,
        run_id=f"{main.run_id}-random",
        progress=_stage(progress, 2),
        start_ms=start_ms,
    )
    traded = {s: series[s].slice(first[s], len(series[s])) for s in symbols}
    hold = buy_and_hold(traded, settings, run_id=f"{main.run_id}-hold")
    metrics = compute_metrics(main)
    rows = tuple(
        BaselineRow(name, r, compute_metrics(r))
        for name, r in ((BUY_AND_HOLD, hold), (RANDOM, random), (BASELINE, baseline))
    )
    return Comparison(
        strategy_name=name,
        result=main,
        metrics=metrics,
        baselines=rows,
        verdict=judge(metrics, [(row.name, row.metrics) for row in rows]),
        random_rate=rate,
    )


def baseline_strategy(series: Mapping[str, CandleSeries], settings: Settings) -> EmaAtrBaseline:
    """The EMA/ATR baseline as `slt backtest` builds it: horizon = max hold in bars."""
    interval_ms = series[next(iter(series))].interval_ms if series else 60_000
    horizon = settings.risk.max_hold_ms // interval_ms
    return EmaAtrBaseline(settings.baseline, horizon_bars=max(1, horizon))


def _stage(progress: Progress | None, k: int) -> Progress | None:
    """Map one engine run's `(done, total)` onto the overall scale of the three runs."""
    if progress is None:
        return None
    report = progress

    def staged(done: int, total: int) -> None:
        report(k * total + done, _ENGINE_RUNS * total)

    return staged


def gross_pnl(result: BacktestResult) -> Decimal:
    """PnL of the run's trades before fees and funding (USDT); slippage is in the prices."""
    return sum((t.gross_pnl for t in result.trades), Decimal(0))


def fee_share(result: BacktestResult) -> float | None:
    """Fees paid as a fraction of gross PnL (the PnL of the trades before fees and funding).

    It says how much of what the trading earned went to the exchange: 0.3 means fees took 30 %
    of it, above 1 that they turned a gross profit into a loss. With a gross PnL of zero or
    less there was no profit to take a share of, and the figure is None.
    """
    gross = gross_pnl(result)
    if gross <= 0:
        return None
    return float(result.fees_paid / gross)


def judge(strategy: Metrics, baselines: Sequence[tuple[str, Metrics]]) -> Verdict:
    """Whether `strategy` beat each named baseline on total return and on daily Sharpe."""
    versus = tuple(_versus(name, strategy, m) for name, m in baselines)
    text = verdict_text(versus)
    if strategy.trades == 0:
        text = (
            "The strategy made no trades in this period: no signal cleared its entry threshold "
            f"(or the risk layer refused every one), so it shows no edge. {text}"
        )
    return Verdict(versus, text)


def _versus(name: str, s: Metrics, b: Metrics) -> Versus:
    beat_sharpe = None if s.sharpe is None or b.sharpe is None else s.sharpe > b.sharpe
    return Versus(
        name=name,
        strategy_return=s.total_return,
        baseline_return=b.total_return,
        strategy_sharpe=s.sharpe,
        baseline_sharpe=b.sharpe,
        beat_return=_greater(s.total_return, b.total_return),
        beat_sharpe=beat_sharpe,
    )


def _greater(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and a > b


def verdict_text(versus: Sequence[Versus]) -> str:
    """One plain paragraph: the headline, then each baseline with the figures behind it."""
    if not versus:
        return "No baselines were run, so nothing can be said about the strategy's edge."
    n = len(versus)
    beaten = [v for v in versus if v.beaten]
    count = _COUNT_WORDS.get(n, str(n))
    if len(beaten) == n:
        head = f"The strategy beat all {count} baselines on return and Sharpe"
        return f"{head}: " + "; ".join(f"{v.name} ({_figures(v)})" for v in versus) + "."
    if not beaten:
        head = f"The strategy did NOT beat any of the {count} baselines"
    else:
        some = _COUNT_WORDS.get(len(beaten), str(len(beaten)))
        head = f"The strategy beat only {some} of the {count} baselines"
    parts = [_clause(v) for v in versus]
    return f"{head}. " + " ".join(parts)


def _clause(v: Versus) -> str:
    if v.beaten:
        return f"It beat {v.name} on return and Sharpe ({_figures(v)})."
    misses = []
    if not v.beat_return:
        misses.append("return")
    if v.beat_sharpe is False:
        misses.append("Sharpe")
    if v.beat_sharpe is None:
        misses.append("Sharpe (undefined, not comparable)")
    return f"It did NOT beat {v.name} on {' and '.join(misses)} ({_figures(v)})."


def _figures(v: Versus) -> str:
    return (
        f"return {fmt_pct(v.strategy_return)} vs {fmt_pct(v.baseline_return)}, "
        f"Sharpe {fmt_ratio(v.strategy_sharpe)} vs {fmt_ratio(v.baseline_sharpe)}"
    )
