"""The cells of the baselines table and of the model retrain log, for both reports.

Built once here so the terminal and the HTML file cannot disagree on a figure or its colour.
Gross PnL sits beside the fees so that, where the fee share is n/a (no gross profit to take a
share of), the reader still sees what trading earned before the exchange was paid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from slt.backtest.compare import Comparison, fee_share, gross_pnl
from slt.backtest.report.format import Tone, fmt_money, fmt_pct, fmt_ratio, fmt_time, tone_of
from slt.domain.model import ModelEvent

COMPARISON_TITLE = "Against the baselines"
COMPARISON_COLUMNS = (
    "run",
    "total return",
    "annualised",
    "Sharpe (daily)",
    "max drawdown",
    "trades",
    "win rate",
    "gross PnL (USDT)",
    "fees paid (USDT)",
    "fees / gross PnL",
)
MODEL_EVENTS_TITLE = "Model retrains"
MODEL_EVENT_COLUMNS = (
    "time (UTC)",
    "trades seen",
    "trigger",
    "challenger",
    "champion",
    "promoted",
    "metrics",
    "note",
)


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    tone: Tone = Tone.NEUTRAL
    numeric: bool = False


def strategy_label(name: str) -> str:
    """The tested strategy's row label, marked so it cannot be mistaken for a baseline."""
    return f"strategy: {name}"


def comparison_rows(c: Comparison) -> tuple[tuple[Cell, ...], ...]:
    """One row per run, the strategy first, in `COMPARISON_COLUMNS` order."""
    out = []
    for i, row in enumerate(c.rows()):
        m = row.metrics
        dd = m.max_drawdown
        gross = gross_pnl(row.result)
        out.append(
            (
                Cell(strategy_label(row.name) if i == 0 else row.name),
                Cell(fmt_pct(m.total_return), tone_of(m.total_return), True),
                Cell(fmt_pct(m.cagr), tone_of(m.cagr), True),
                Cell(fmt_ratio(m.sharpe), tone_of(m.sharpe), True),
                Cell(fmt_pct(dd, signed=False), tone_of(-dd), True),
                Cell(str(m.trades), numeric=True),
                Cell(fmt_pct(m.win_rate, signed=False), numeric=True),
                Cell(fmt_money(gross, signed=True), tone_of(gross), True),
                Cell(fmt_money(m.fees_paid), numeric=True),
                Cell(fmt_pct(fee_share(row.result), signed=False, digits=1), numeric=True),
            )
        )
    return tuple(out)


def verdict_tone(c: Comparison) -> Tone:
    return Tone.GOOD if c.verdict.beats_all else Tone.BAD


def random_note(c: Comparison) -> str:
    """How the random entries were matched, so a reader can judge the control."""
    return (
        f"Random entries fired on {fmt_pct(c.random_rate, signed=False, digits=3)} of bars, "
        f"the strategy's own signal rate; all runs share the same candles, fees and risk settings."
    )


def model_event_rows(events: Iterable[ModelEvent]) -> tuple[tuple[Cell, ...], ...]:
    """One row per retrain, in `MODEL_EVENT_COLUMNS` order; promotions shown in green."""
    return tuple(
        (
            Cell(fmt_time(e.time_ms)),
            Cell(str(e.trades_seen), numeric=True),
            Cell(e.trigger),
            Cell(e.challenger_id),
            Cell(e.champion_id),
            Cell("yes" if e.promoted else "no", Tone.GOOD if e.promoted else Tone.NEUTRAL),
            Cell(fmt_model_metrics(e.metrics)),
            Cell(e.note),
        )
        for e in events
    )


def model_event_line(e: ModelEvent) -> tuple[str, Tone]:
    """One retrain as a sentence, for a narrow terminal: when, why, what came of it."""
    why = f"after {e.trades_seen} trades" if e.trigger == "trades" else f"{e.trigger} trigger"
    if not e.challenger_id:
        return f"{fmt_time(e.time_ms)}  {why}: no challenger ({e.note})", Tone.BAD
    verdict = "promoted" if e.promoted else "not promoted"
    because = e.note or fmt_model_metrics(e.metrics)
    return (
        f"{fmt_time(e.time_ms)}  {why}: challenger {e.challenger_id} {verdict} ({because}); "
        f"trading with {e.champion_id}",
        Tone.GOOD if e.promoted else Tone.NEUTRAL,
    )


def fmt_model_metrics(metrics: Mapping[str, float]) -> str:
    """`name=value` pairs in the order the model reported them, 4 significant digits."""
    return ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()) or "—"
