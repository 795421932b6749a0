"""`slt backtest` as a use case: candles from the store (the bundled sample on first use), the
engine over them, the report written and the run stored with its config and id."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from slt.backtest.compare import Comparison, baseline_strategy, run_comparison
from slt.backtest.driver import BacktestError, Progress, run_backtest
from slt.backtest.metrics import Metrics, compute_metrics
from slt.backtest.report_html import write_html_report
from slt.backtest.result import BacktestResult
from slt.config import Settings
from slt.data.sample import ensure_sample_loaded
from slt.domain import CandleSeries
from slt.rules import ExchangeRules
from slt.storage import CandleStore, RunStore, create_engine, migrate
from slt.strategy.base import Strategy


@dataclass(frozen=True)
class BacktestOutcome:
    result: BacktestResult
    metrics: Metrics
    report_path: Path | None
    sample_loaded: bool


def check_leverage_config(settings: Settings, rules: ExchangeRules, symbols: list[str]) -> None:
    """A leverage cap above a traded symbol's highest bracket is a configuration mistake."""
    cap = settings.risk.max_leverage
    for s in symbols:
        top = rules.get(s).highest_leverage
        if cap > top:
            raise BacktestError(
                f"risk.max_leverage={cap} is above {s}'s highest bracket leverage ({top}x); "
                f"lower it to {top} or less (SLT_RISK__MAX_LEVERAGE)"
            )


async def load_candles(
    settings: Settings, symbols: tuple[str, ...], interval: str, on_sample: Callable[[], None]
) -> tuple[dict[str, CandleSeries], bool]:
    engine = create_engine(settings.effective_database_url)
    try:
        await migrate(engine)
        store = CandleStore(engine)
        loaded = False
        if not await store.list_series():
            on_sample()
            loaded = await ensure_sample_loaded(store) is not None
        available = {i.symbol for i in await store.list_series() if i.interval == interval}
        wanted = symbols or tuple(sorted(available))
        missing = [s for s in wanted if s not in available]
        if missing:
            have = ", ".join(sorted(available)) or "none"
            raise BacktestError(
                f"no {interval} candles stored for {', '.join(missing)} (stored: {have}); "
                f"import them with `slt data import FILE...`"
            )
        bt = settings.backtest
        series = {s: await store.load(s, interval, bt.start_ms, bt.end_ms) for s in wanted}
        return series, loaded
    finally:
        await engine.dispose()


def metrics_record(m: Metrics) -> dict[str, Any]:
    """The headline metrics as plain JSON values, for the run store."""
    keep = [
        "total_return",
        "cagr",
        "sharpe",
        "sortino",
        "max_drawdown",
        "trades",
        "wins",
        "losses",
        "win_rate",
        "profit_factor",
        "expectancy_return",
        "avg_holding_ms",
        "exposure",
    ]
    out: dict[str, Any] = {k: getattr(m, k) for k in keep}
    out["fees_paid"] = str(m.fees_paid)
    out["funding_paid"] = str(m.funding_paid)
    out["net_pnl"] = str(m.net_pnl)
    out["exits"] = {r.value: n for r, n in m.exit_legs_by_reason.items()}
    out["rejected_orders"] = dict(m.rejected_orders)
    return out


async def store_run(settings: Settings, result: BacktestResult, metrics: Metrics) -> None:
    engine = create_engine(settings.effective_database_url)
    try:
        await migrate(engine)
        await RunStore(engine).save(
            run_id=result.run_id,
            created_ms=int(time.time() * 1000),
            config=result.config,
            symbols=result.symbols,
            interval=result.interval,
            start_ms=result.start_ms,
            end_ms=result.end_ms,
            metrics=metrics_record(metrics),
            trade_list_hash=result.trade_list_hash(),
            trades=[msgspec.to_builtins(t) for t in result.trades],
        )
    finally:
        await engine.dispose()


def run(
    settings: Settings,
    rules: ExchangeRules,
    series: dict[str, CandleSeries],
    *,
    html: bool,
    progress: Progress | None = None,
    strategy: Strategy | None = None,
    start_ms: int | None = None,
    compare: bool = False,
) -> tuple[BacktestResult, Metrics, Path | None, Comparison | None]:
    """Backtest `strategy` (default: the baseline). With `compare`, buy-and-hold, random
    entries and the baseline run on the same candles and the report sets them side by side."""
    check_leverage_config(settings, rules, sorted(series))
    chosen = strategy or baseline_strategy(series, settings)
    comparison = None
    if compare:
        comparison = run_comparison(
            series, chosen, settings, rules, progress=progress, start_ms=start_ms
        )
        result, metrics = comparison.result, comparison.metrics
    else:
        result = run_backtest(series, chosen, settings, rules, progress=progress, start_ms=start_ms)
        metrics = compute_metrics(result)
    path = None
    if html:
        path = write_html_report(
            result,
            metrics,
            settings.backtest.report_dir / f"backtest-{result.run_id}.html",
            comparison=comparison,
        )
    return result, metrics, path, comparison
