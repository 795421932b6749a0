"""`slt status`: what a run holds and how its processes are, read from the database.

The data comes from `slt.status_report` (the database alone, so this works from another
terminal while `slt run` trades); here it becomes rich tables, or JSON with `--json`.

Exit codes: 0 with a report, or with one line when there is no database or no run yet;
1 when the database cannot be reached or `--run` names no run; 2 for a bad config file.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from slt.cli_support import fail
from slt.config import ConfigError, load_settings
from slt.runtime.status import duration
from slt.status_report import (
    StatusReport,
    as_json,
    checks_word,
    load,
    missing_sqlite_file,
    oos_metrics,
)
from slt.storage import StorageError, describe_url

console = Console()


def fmt_left(ms: int) -> str:
    """`1h23m` left, or `overdue 4m10s` past the time exit."""
    return duration(ms) if ms >= 0 else f"overdue {duration(-ms)}"


def fmt_age(ms: int) -> str:
    """`12 s ago` under a minute, `3m12s ago` beyond (a clock a little ahead reads 0 s)."""
    s = max(ms, 0) // 1000
    return f"{s} s ago" if s < 60 else f"{duration(ms)} ago"


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _money(value: Decimal | None, places: int = 2) -> str:
    return "—" if value is None else f"{value:,.{places}f}"


def _rate(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:.1%}"


def _stat(report: StatusReport, role: str, name: str) -> float | None:
    for p in report.processes:
        if p.beat.role == role:
            return p.beat.stats.get(name)
    return None


def run_state(report: StatusReport) -> str:
    """Ended, stopped, running, or silent: a run that never recorded its end and whose
    heartbeats have not been copied for longer than the stuck limit (stopped or crashed)."""
    if report.run.ended_ms is not None:
        return f"ended {_utc(report.run.ended_ms)} UTC"
    if not report.processes:
        return "no heartbeats stored"
    if all(p.beat.phase == "STOPPED" for p in report.processes):
        return "stopped"
    silent_ms = report.wall_ms - max(p.beat.written_ms for p in report.processes)
    if silent_ms > report.stuck_ms:
        return f"[bold red]no heartbeats copied for {duration(silent_ms)}: stopped or crashed?[/]"
    return "running"


def render(report: StatusReport, out: Console) -> None:
    """The report as rich tables (see the README's "Status" section for an example)."""
    run = report.run
    clock = " (market time of the replay)" if report.market_clock else ""
    out.print(
        f"run [bold]{escape(run.run_id)}[/] on {escape(run.venue)}, started "
        f"{_utc(run.started_ms)} UTC, {run_state(report)}; now {_utc(report.now_ms)} UTC{clock}; "
        f"database {escape(report.database)}",
        highlight=False,
        soft_wrap=True,
    )
    if report.account is not None:
        a = report.account
        out.print(
            f"equity {_money(a.equity)} USDT · balance {_money(a.balance)} · available "
            f"{_money(a.available)} · as of {_utc(a.time_ms)} UTC",
            highlight=False,
            soft_wrap=True,
        )
    else:
        out.print("no account snapshot yet", highlight=False)
    positions = Table(title=f"Open positions (time exit after {duration(report.max_hold_ms)})")
    for col in ("symbol", "side", "qty", "entry", "entry time (UTC)", "time left", "mark", "uPnL"):
        positions.add_column(col, justify="right" if col in ("qty", "entry", "mark") else "left")
    for v in report.positions:
        p = v.position
        left = fmt_left(v.time_left_ms)
        positions.add_row(
            p.symbol,
            p.side,
            str(p.quantity),
            str(p.entry_price),
            _utc(p.entry_time_ms),
            f"[red]{left}[/]" if v.time_left_ms < 0 else left,
            "—" if p.mark_price is None else str(p.mark_price),
            _money(v.unrealized_pnl, 4),
        )
    out.print(positions if report.positions else "no open positions")
    t = report.today
    out.print(
        f"today ({_utc(t.day_start_ms)[:10]}): {len(t.trades)} trades, {t.wins} won, net PnL "
        f"{_money(t.net_pnl, 4)} USDT after {_money(t.fees, 4)} fees",
        highlight=False,
        soft_wrap=True,
    )
    out.print(_model_line(report), highlight=False, soft_wrap=True)
    out.print(
        "cache hit rates: L1 {} · L2 {} · overall {} · REST weight used: feed {} / brain {}".format(
            _rate(_stat(report, "brain", "cache_l1_hit_rate")),
            _rate(_stat(report, "brain", "cache_l2_hit_rate")),
            _rate(_stat(report, "brain", "cache_hit_rate")),
            _count(_stat(report, "feed", "rest_weight_used")),
            _count(_stat(report, "brain", "rest_weight_used")),
        ),
        highlight=False,
        soft_wrap=True,
    )
    procs = Table(title="Processes (last heartbeat)")
    for col in ("process", "pid", "phase", "last beat", "up", "restarts"):
        procs.add_column(col)
    for pv in report.processes:
        b = pv.beat
        age = "never" if not b.beat_ms else fmt_age(pv.age_ms)
        procs.add_row(
            b.role,
            str(b.pid or "—"),
            b.phase.lower(),
            f"[bold red]{age} (stale)[/]" if pv.stale else age,
            duration((b.beat_ms or b.written_ms) - b.started_ms),
            str(b.restarts),
        )
    out.print(procs if report.processes else "no heartbeats stored for this run")


def _count(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:,.0f}"


def _model_line(report: StatusReport) -> str:
    if report.strategy != "ml":
        return f"model: none, strategy {report.strategy}"
    m = report.champion
    if m is None:
        return "model: no champion (train one with `slt train`)"
    oos = oos_metrics(m)

    def num(key: str) -> str:
        v = oos.get(key)
        return f"{v:+.4f}" if isinstance(v, int | float) else "—"

    checks = checks_word(m)
    return (
        f"model {m.model_id} (champion, {m.interval}): OOS IC {num('ic')}, direction accuracy "
        f"{num('direction_accuracy')}, top/bottom decile return {num('top_decile_return')}/"
        f"{num('bottom_decile_return')}; checks {checks}"
    )


def status_command(
    run: Annotated[
        str | None, typer.Option("--run", help="Run id (default: the latest run)")
    ] = None,
    as_json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    config: Annotated[Path | None, typer.Option(help="TOML config file")] = None,
) -> None:
    """What a run holds and how its processes are, from the database (works while `slt run`
    runs in another terminal). Exit 0, or 1 when the database is unreachable or --run names
    no run."""
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        fail(str(exc), 2)
    url = settings.effective_database_url
    report: StatusReport | None = None
    try:
        missing = missing_sqlite_file(url)
        if missing is None:
            report = asyncio.run(load(settings, run))
    except StorageError as exc:
        fail(str(exc))
    if report is None:
        if run is not None:
            fail(f"no run {run!r} in {describe_url(url)}; omit --run for the latest run")
        where = f"no database yet at {missing}" if missing else f"no run yet in {describe_url(url)}"
        _say_empty(f"{where}: start one with `slt run`", as_json_out)
        return
    if as_json_out:
        typer.echo(json.dumps(as_json(report), default=str))
    else:
        render(report, console)


def _say_empty(message: str, as_json_out: bool) -> None:
    if as_json_out:
        typer.echo(json.dumps({"run": None, "message": message}))
    else:
        console.print(message, highlight=False, soft_wrap=True)
