"""Logging set-up for every process: lines a trader can read, or JSON lines for cloud platforms.

Three choices, and why:

* **Role on every line.** The Orchestrator, the Feed and the Brain all write to the same
  stderr (children inherit it), so each line says which process wrote it (`orchestrator`,
  `feed`, `brain`).
* **Human or JSON.** On a terminal, rich's coloured lines; elsewhere (a container's log
  collector) plain one-line text that never wraps; with `json=True` one JSON object per line
  (`ts` int UTC ms, `level`, `role`, `logger`, `msg`, plus any `extra=` fields) for platforms
  that index fields.
* **Repeated problems are aggregated.** A WebSocket that fails to reconnect, or a venue that
  refuses every order, would otherwise print the same warning hundreds of times and bury the
  lines that matter. Warnings and errors with the same logger, level and message template are
  printed once; repeats within the window (one minute) are counted and summarised once when
  the window ends: "<message> (N times in the last minute)". The counting rule is
  `RepeatCounter`, plain values and an injected clock; `RepeatFilter` is its logging shell.

Aggregation keys on the *template* (`log.warning("reconnect to %s failed", url)`), so callers
should pass values as arguments rather than formatting them into the message first, and mark
lines that must always be printed although they share a template with `extra=EVERY_TIME`.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson
from rich.console import Console
from rich.logging import RichHandler

WINDOW_MS = 60_000
_MAX_KEYS = 1_000
_SUMMARY_ATTR = "slt_summary"
_AGGREGATE_ATTR = "aggregate"

EVERY_TIME: dict[str, object] = {_AGGREGATE_ATTR: False}
"""`extra=EVERY_TIME` (or a `LoggerAdapter` with it) marks a warning or error that must never
be folded into a summary: lines that are few by nature and each of which matters, such as the
Orchestrator's "feed died" and "brain died", which share one template."""

# Attributes every LogRecord has; anything else on a record came from `extra=` and goes into
# the JSON object as its own field.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "role", _SUMMARY_ATTR, _AGGREGATE_ATTR}
)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


# --- the pure rule ------------------------------------------------------------------------------
@dataclass(slots=True)
class _Window:
    started_ms: int
    repeats: int = 0
    last: Any = None


@dataclass(frozen=True, slots=True)
class Summary:
    """A window that ended with suppressed repeats: `count` includes the first, printed line."""

    key: Hashable
    count: int
    last: Any


@dataclass(slots=True)
class RepeatCounter:
    """Decides which of a stream of keyed events to show (plain values, time passed in).

    The first event of a key is shown and opens a window of `window_ms`; further events of
    that key inside the window are counted, not shown. When the window has passed (seen on
    the next `offer` or `expire` call) a `Summary` is due if anything was suppressed, and the
    key's next event is shown again. At most `max_keys` windows are open; beyond that an
    unseen key is shown without being tracked, so memory stays bounded."""

    window_ms: int = WINDOW_MS
    max_keys: int = _MAX_KEYS
    _open: dict[Hashable, _Window] = field(default_factory=dict)

    def offer(self, key: Hashable, now_ms: int, payload: Any = None) -> tuple[bool, list[Summary]]:
        """(show this event?, summaries now due, the closed windows' ones first)."""
        due = self.expire(now_ms)
        window = self._open.get(key)
        if window is None:
            if len(self._open) < self.max_keys:
                self._open[key] = _Window(now_ms)
            return True, due
        window.repeats += 1
        window.last = payload
        return False, due

    def expire(self, now_ms: int, everything: bool = False) -> list[Summary]:
        """Close the windows that have run their time (all of them with `everything`, as at
        shutdown) and return the summaries of those that suppressed something."""
        due: list[Summary] = []
        for key, window in list(self._open.items()):
            if everything or now_ms - window.started_ms >= self.window_ms:
                del self._open[key]
                if window.repeats:
                    due.append(Summary(key, window.repeats + 1, window.last))
        return due


def summary_text(message: str, count: int, window_ms: int = WINDOW_MS) -> str:
    """`message (N times in the last minute)`; other windows are named in seconds."""
    span = "minute" if window_ms == 60_000 else f"{window_ms / 1000:g} s"
    return f"{message} ({count} times in the last {span})"


# --- the logging shell --------------------------------------------------------------------------
class RoleFilter(logging.Filter):
    """Stamps `record.role` (the process's role) on every record that has none."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "role"):
            record.role = self.role
        return True


class RepeatFilter(logging.Filter):
    """Aggregates repeated warnings and errors (module docstring) on the handler it is bound to.

    A filter can only pass or drop the record in hand, so the summaries of closed windows are
    written straight to the bound handler. They go out when any later record passes through,
    or when `flush` is called (the Orchestrator calls it on its status tick; `close` flushes
    everything)."""

    def __init__(
        self,
        window_ms: int = WINDOW_MS,
        clock: Callable[[], int] = _wall_ms,
        min_level: int = logging.WARNING,
    ) -> None:
        super().__init__()
        self.counter = RepeatCounter(window_ms)
        self.clock = clock
        self.min_level = min_level
        self.handler: logging.Handler | None = None
        self._lock = threading.Lock()

    def bind(self, handler: logging.Handler) -> RepeatFilter:
        handler.addFilter(self)
        self.handler = handler
        return self

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _SUMMARY_ATTR, False):
            return True
        now = self.clock()
        with self._lock:  # records may come from several threads; the counter is plain state
            if record.levelno < self.min_level or not getattr(record, _AGGREGATE_ATTR, True):
                show, due = True, self.counter.expire(now)
            else:
                key = (record.name, record.levelno, str(record.msg))
                show, due = self.counter.offer(key, now, record)
        self._write(due)
        return show

    def flush(self, everything: bool = False) -> None:
        with self._lock:
            due = self.counter.expire(self.clock(), everything)
        self._write(due)

    def _write(self, due: list[Summary]) -> None:
        if self.handler is None:
            return
        for s in due:
            last: logging.LogRecord = s.last
            record = logging.makeLogRecord(dict(last.__dict__))
            record.msg = summary_text(last.getMessage(), s.count, self.counter.window_ms)
            record.args = None
            record.exc_info = record.exc_text = None
            record.created = self.clock() / 1000
            setattr(record, _SUMMARY_ATTR, True)
            self.handler.handle(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (int UTC ms), level, role, logger, msg, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": int(record.created * 1000),
            "level": record.levelname,
            "role": getattr(record, "role", None),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class PlainFormatter(logging.Formatter):
    """`2026-12-04T18:01:02.345Z INFO    feed         message` (UTC, never wrapped)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(role)-12s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{seconds}.{int(record.created * 1000) % 1000:03d}Z"


def make_handler(json: bool = False, stream: TextIO | None = None) -> logging.Handler:
    """The handler `setup_logging` installs: JSON lines, rich on a terminal, plain otherwise."""
    out = sys.stderr if stream is None else stream
    handler: logging.Handler
    if json:
        handler = logging.StreamHandler(out)
        handler.setFormatter(JsonFormatter())
    elif out.isatty():
        handler = RichHandler(
            console=Console(file=out),
            show_path=False,
            rich_tracebacks=False,
            log_time_format="[%X]",
        )
        handler.setFormatter(logging.Formatter("%(role)-12s %(message)s"))
    else:
        handler = logging.StreamHandler(out)
        handler.setFormatter(PlainFormatter())
    return handler


def setup_logging(
    level: str = "INFO",
    json: bool | None = None,
    role: str | None = None,
    stream: TextIO | None = None,
    window_ms: int = WINDOW_MS,
) -> RepeatFilter:
    """Configure the root logger for this process (replacing any earlier set-up) and return
    the repeat filter, whose `flush` writes due summaries.

    `json` and `role` left as None keep what an earlier call in this process chose (the
    Orchestrator's child wrapper sets both before a child's own `setup_logging(level)` runs),
    else human lines and role `main`."""
    global _current, _role, _json
    _role = role or _role
    _json = _json if json is None else json
    handler = make_handler(_json, stream)
    handler.addFilter(RoleFilter(_role))
    repeats = RepeatFilter(window_ms).bind(handler)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Alembic narrates every start ("Context impl SQLiteImpl.", one line per revision) in each
    # process; `slt.storage.migrate` says in one line when a schema really changed.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.root.level))
    if _current is None:
        atexit.register(_flush_at_exit)  # runs before logging's own shutdown (registered first)
    _current = repeats
    return repeats


_role = "main"
_json = False
_current: RepeatFilter | None = None


def flush_repeats() -> None:
    """Print the summaries whose window has ended (the Orchestrator calls this on its status
    tick, so a summary appears even when nothing else is being logged)."""
    if _current is not None:
        _current.flush()


def _flush_at_exit() -> None:
    """Print the summaries of windows still open when the process ends."""
    if _current is not None:
        _current.flush(everything=True)
