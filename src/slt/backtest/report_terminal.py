"""The backtest summary a trader reads at a glance in the terminal, rendered with rich."""

from __future__ import annotations

from rich.columns import Columns
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from slt.backtest.metrics import Metrics
from slt.backtest.report.format import Section, Tone, fmt_period, metric_sections
from slt.backtest.result import BacktestResult
from slt.domain.enums import ExitReason

_STYLE = {Tone.GOOD: "green", Tone.BAD: "red", Tone.NEUTRAL: ""}


def render_summary(result: BacktestResult, metrics: Metrics, console: Console) -> None:
    """Print the run header, the metrics, exits by reason and rejected orders to `console`.

    Tables sit side by side when the console is wide enough and stack when it is not, so the
    same call reads well in a wide terminal and in a narrow CI log.
    """
    console.print(_header(result))
    sections = metric_sections(result, metrics)
    console.print(Columns([_section_table(s) for s in sections], equal=False, expand=False))
    console.print(Columns([_exits_table(metrics), _rejected_table(metrics)], expand=False))


def _header(result: BacktestResult) -> Group:
    symbols = ", ".join(result.symbols) or "none"
    title = Text.assemble(("Backtest ", "bold"), (result.run_id, "bold cyan"))
    details = Text(
        f"{len(result.symbols)} symbol(s): {symbols}\n"
        f"interval {result.interval} · {fmt_period(result)} · "
        f"{result.candles_processed:,} candles in {result.elapsed_s:.1f}s"
    )
    return Group(title, details)


def _section_table(section: Section) -> Table:
    table = Table(title=section.title, show_header=False, title_justify="left")
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    for row in section.rows:
        table.add_row(Text(row.label), Text(row.value, style=_STYLE[row.tone]))
    return table


def _exits_table(metrics: Metrics) -> Table:
    """Exit legs (partial take-profits included) beside the reason that closed each trade."""
    table = Table(title="Exits by reason", title_justify="left")
    table.add_column("reason")
    table.add_column("legs", justify="right")
    table.add_column("final", justify="right")
    legs, final = metrics.exit_legs_by_reason, metrics.final_exits_by_reason
    reasons = [r for r in ExitReason if r in legs or r in final]
    if not reasons:
        table.add_row(Text("no exits", style="dim"), "0", "0")
    for reason in reasons:
        table.add_row(
            reason.value,
            str(legs.get(reason, 0)),
            str(final.get(reason, 0)),
        )
    return table


def _rejected_table(metrics: Metrics) -> Table:
    table = Table(title="Rejected orders", title_justify="left")
    table.add_column("reason")
    table.add_column("count", justify="right")
    if not metrics.rejected_orders:
        table.add_row(Text("none", style="dim"), "0")
    for reason, count in metrics.rejected_orders.items():
        # Reasons come from the run: as Text they are shown verbatim, never parsed as markup.
        table.add_row(Text(reason), Text(str(count), style="yellow" if count else ""))
    return table
