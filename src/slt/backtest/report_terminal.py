"""The backtest summary a trader reads at a glance in the terminal, rendered with rich."""

from __future__ import annotations

from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from slt.backtest.compare import Comparison
from slt.backtest.metrics import Metrics
from slt.backtest.report.comparison import (
    COMPARISON_COLUMNS,
    COMPARISON_TITLE,
    MODEL_EVENTS_TITLE,
    Cell,
    comparison_rows,
    model_event_line,
    random_note,
    verdict_tone,
)
from slt.backtest.report.format import Section, Tone, fmt_period, metric_sections
from slt.backtest.result import BacktestResult
from slt.domain.enums import ExitReason

_STYLE = {Tone.GOOD: "green", Tone.BAD: "red", Tone.NEUTRAL: ""}


def render_summary(
    result: BacktestResult,
    metrics: Metrics,
    console: Console,
    comparison: Comparison | None = None,
) -> None:
    """Print the run header, the metrics, exits by reason and rejected orders to `console`,
    then the retrain log of a self-learning run and, with `comparison`, the baselines table
    and the verdict last, where the eye lands when the command finishes.

    Tables sit side by side when the console is wide enough and stack when it is not, so the
    same call reads well in a wide terminal and in a narrow CI log.
    """
    console.print(_header(result))
    sections = metric_sections(result, metrics)
    console.print(Columns([_section_table(s) for s in sections], equal=False, expand=False))
    console.print(Columns([_exits_table(metrics), _rejected_table(metrics)], expand=False))
    if result.model_events:
        promoted = sum(e.promoted for e in result.model_events)
        console.print(
            Text(f"{MODEL_EVENTS_TITLE}: {len(result.model_events)}, {promoted} promoted", "bold")
        )
        for event in result.model_events:
            line, tone = model_event_line(event)
            console.print(Text(line, style=_STYLE[tone]))
    if comparison is not None:
        render_comparison(comparison, console)


def render_comparison(comparison: Comparison, console: Console) -> None:
    """The strategy beside its baselines, then the verdict in one plain, coloured line."""
    console.print(_comparison_table(comparison, console.width))
    console.print(Text(random_note(comparison), style="dim"))
    console.print(
        Text(comparison.verdict.text, style=f"bold {_STYLE[verdict_tone(comparison)]}".strip())
    )


def _comparison_table(comparison: Comparison, width: int) -> RenderableType:
    """Runs as rows when the console is wide enough; else transposed (figures as rows, runs as
    columns), which fits an 80-column log; else one small table per run, stacked. No layout
    ever cuts a figure: a truncated "-25…" would mislead."""
    rows = comparison_rows(comparison)
    if _natural_width(COMPARISON_COLUMNS, rows) <= width:
        return _cells_table(COMPARISON_TITLE, COMPARISON_COLUMNS, rows)
    figures = COMPARISON_COLUMNS[1:]
    label_width = max(len(f) for f in figures)
    value_widths = [max(10, *(len(c.text) for c in row[1:])) for row in rows]
    if 1 + 3 * (len(rows) + 1) + label_width + sum(value_widths) <= width:
        table = Table(title=COMPARISON_TITLE, title_justify="left")
        table.add_column("figure", no_wrap=True)
        for row, w in zip(rows, value_widths, strict=True):
            table.add_column(Text(row[0].text), justify="right", min_width=w, overflow="fold")
        for j, name in enumerate(figures, start=1):
            table.add_row(Text(name), *(_styled(row[j]) for row in rows))
        return table
    per_run = []
    for row in rows:
        table = Table(title=row[0].text, show_header=False, title_justify="left")
        table.add_column("figure", no_wrap=True)
        table.add_column("value", justify="right", no_wrap=True)
        for name, cell in zip(figures, row[1:], strict=True):
            table.add_row(Text(name), _styled(cell))
        per_run.append(table)
    return Group(Text(COMPARISON_TITLE, style="italic"), Columns(per_run, expand=False))


def _styled(cell: Cell) -> Text:
    # Cells hold run-provided text (names, notes): Text keeps it verbatim, never markup.
    return Text(cell.text, style=_STYLE[cell.tone])


def _natural_width(columns: tuple[str, ...], rows: tuple[tuple[Cell, ...], ...]) -> int:
    """Width of the table with every cell whole and headers wrapped at spaces (borders too)."""
    total = 1 + 3 * len(columns)
    for i, name in enumerate(columns):
        longest_word = max(len(word) for word in name.split())
        total += max([longest_word, *(len(row[i].text) for row in rows)])
    return total


def _cells_table(title: str, columns: tuple[str, ...], rows: tuple[tuple[Cell, ...], ...]) -> Table:
    """A table of `Cell`s. Figures and the first column are never cut or wrapped (a truncated
    "-25…" misleads); in a narrow console the headers and free text wrap instead."""
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        numeric = bool(rows) and rows[0][i].numeric
        keep_whole = numeric or i == 0
        widest = max((len(row[i].text) for row in rows), default=0)
        table.add_column(
            name,
            justify="right" if numeric else "left",
            no_wrap=i == 0,
            min_width=widest if keep_whole else None,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(_styled(c) for c in row))
    return table


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
