"""What every `slt` command shares: the one error line and the UTC time options.

A failure prints `error: <what happened and how to fix it>` on stderr and exits non-zero;
times on the command line are ISO dates/times in UTC or int milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True)

TIME_FORMATS = "YYYY-MM-DD[THH:MM] (UTC) or milliseconds"


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` as the command's one error line and exit with `code`."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def parse_utc_ms(value: str) -> int:
    """ISO date/time (UTC unless it says otherwise) or int ms → int UTC ms; `ValueError`
    saying what is accepted otherwise."""
    if value.isdigit():
        return int(value)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date; use {TIME_FORMATS}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)
