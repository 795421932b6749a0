"""The Orchestrator's periodic status line: one INFO line a trader reads to know the system is
alive and doing what it should, built from the heartbeat board and the ring (plain values in,
a string out).

`status: 212 symbols live · ring depth 0 · rejected 3 · malformed 0 · REST weight feed 0 /
brain 41 · equity 10012.35 · open positions 2 · orders rejected 0 · feed pid 4242 up 3m12s
beat 0.4s ago restarts 0 · brain pid 4243 up 3m12s beat 0.8s ago restarts 1`

REST weight is shown per process: each counts what it spent itself, and they draw on the
same per-IP budget, so a reader wants both numbers rather than a sum that hides who spent it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from slt.runtime.heartbeat import Beat


@dataclass(frozen=True, slots=True)
class ChildView:
    """What the Orchestrator knows about one role at the time of the line."""

    role: str
    pid: int | None
    """None while the role waits for a restart."""
    restarts: int
    beat: Beat | None
    """Its board slot, once this pid has beaten (before that its numbers mean nothing)."""


def duration(ms: int) -> str:
    """`45s`, `3m12s`, `5h07m`, `2d03h`: a coarse, readable uptime."""
    s = max(ms, 0) // 1000
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"


def _stat(views: Mapping[str, ChildView], role: str, name: str) -> float | None:
    view = views.get(role)
    if view is None or view.beat is None:
        return None
    return view.beat.stats.get(name)


def _num(value: float | None, decimals: int = 0) -> str:
    return "?" if value is None else f"{value:.{decimals}f}"


def status_line(
    views: Mapping[str, ChildView], ring_depth: int, now_ms: int, ring_overruns: int = 0
) -> str:
    """The line (module docstring); `?` for a number whose process has not reported yet.
    "rejected" counts candles the Feed's firewall refused, "malformed" messages it could not
    decode; "orders rejected" are the venue's refusals of the Brain's orders."""
    parts = [
        f"{_num(_stat(views, 'feed', 'symbols_live'))} symbols live",
        f"ring depth {ring_depth}" + (f" (overruns {ring_overruns})" if ring_overruns else ""),
        f"rejected {_num(_stat(views, 'feed', 'rejected'))}",
        f"malformed {_num(_stat(views, 'feed', 'malformed'))}",
        "REST weight feed {} / brain {}".format(
            _num(_stat(views, "feed", "rest_weight_used")),
            _num(_stat(views, "brain", "rest_weight_used")),
        ),
        f"equity {_num(_stat(views, 'brain', 'equity'), 2)}",
        f"open positions {_num(_stat(views, 'brain', 'open_positions'))}",
        f"orders rejected {_num(_stat(views, 'brain', 'orders_rejected'))}",
    ]
    for view in views.values():
        if view.pid is None:
            parts.append(f"{view.role} waiting to restart, restarts {view.restarts}")
            continue
        where = f"{view.role} pid {view.pid}"
        if view.beat is not None and view.beat.beats:
            up = duration(now_ms - view.beat.started_ms)
            ago = max(view.beat.age_ms(now_ms), 0) / 1000
            where += f" up {up} beat {ago:.1f}s ago"
        else:
            where += " starting"
        parts.append(f"{where} restarts {view.restarts}")
    return "status: " + " · ".join(parts)
