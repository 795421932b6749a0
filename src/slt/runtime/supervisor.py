"""The Orchestrator's rules, as plain values: is a child healthy, when to restart it, when to
give up. The loop in `slt.runtime.orchestrator` only applies them (and is the only part that
touches processes and clocks), so every rule here is tested with plain numbers.

* **Dead** is an exit code; **stuck** is a heartbeat too old. A process that has not beaten
  yet gets the longer `start_grace_s` (the Brain loads XGBoost and compiles numba before its
  first beat); after that `stuck_after_s` without a beat is stuck.
* **Backoff.** The n-th restart within the budget window waits `base · 2ⁿ` seconds, capped at
  `backoff_max_s`, times a jitter factor in `[1 - jitter, 1 + jitter]`, so a process that
  keeps crashing does not spin and two that crash together do not restart in lockstep.
  Because n counts only the restarts inside the window, the delay falls back to the base on
  its own once a process has stayed up for a window.
* **Budget.** At most `max_restarts` restarts per role within `budget_window_s`. One more
  failure than that means something is wrong that restarting will not fix (bad
  configuration, the venue refusing us): the Orchestrator stops everything gracefully and
  exits `EXIT_BUDGET_SPENT`, so the container platform (which sees a failed container)
  restarts or alerts.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from enum import Enum

from slt.runtime.heartbeat import Beat

EXIT_OK = 0
"""A requested shutdown (SIGTERM/SIGINT), whatever had to be killed on the way."""
EXIT_BUDGET_SPENT = 75
"""A child's restart budget was spent (75 is sysexits' EX_TEMPFAIL: 'try again later')."""
EXIT_CONFIG = 78
"""sysexits' EX_CONFIG. A child exits with it for a configuration error (no key, a bad
setting): restarting cannot help, so the Orchestrator does not, and exits with it too."""


@dataclass(frozen=True, slots=True)
class SupervisorPolicy:
    """How the Orchestrator watches, restarts and stops its children (all durations seconds;
    they are configuration, not timestamps). The defaults stop everything within
    `shutdown_bound_s` = 2 + 4 + 2 × 0.5 = 7 s, inside a platform's usual 10 s grace."""

    poll_s: float = 0.2
    start_grace_s: float = 120.0
    stuck_after_s: float = 30.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    jitter: float = 0.2
    max_restarts: int = 5
    budget_window_s: float = 600.0
    feed_stop_s: float = 2.0
    """How long the Feed gets to stop after SIGTERM (it only has to stop publishing)."""
    brain_stop_s: float = 4.0
    """How long the Brain gets after SIGTERM to drain the ring and persist its state."""
    kill_wait_s: float = 0.5
    """How long to wait for the exit of a process sent SIGKILL before moving on."""
    status_every_s: float = 180.0

    def __post_init__(self) -> None:
        durations = {
            "poll_s": self.poll_s,
            "start_grace_s": self.start_grace_s,
            "stuck_after_s": self.stuck_after_s,
            "backoff_max_s": self.backoff_max_s,
            "budget_window_s": self.budget_window_s,
            "kill_wait_s": self.kill_wait_s,
            "status_every_s": self.status_every_s,
        }
        for name, value in durations.items():
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if self.backoff_base_s < 0 or self.feed_stop_s < 0 or self.brain_stop_s < 0:
            raise ValueError("backoff_base_s, feed_stop_s and brain_stop_s must be ≥ 0")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")
        if self.max_restarts < 0:
            raise ValueError(f"max_restarts must be ≥ 0, got {self.max_restarts}")

    def stop_grace_s(self, role: str) -> float:
        """The SIGTERM grace for `role` (the Feed's, or the Brain's for any other role)."""
        return self.feed_stop_s if role == "feed" else self.brain_stop_s

    @property
    def shutdown_bound_s(self) -> float:
        """The longest a graceful shutdown of a Feed and a Brain can take."""
        return self.feed_stop_s + self.brain_stop_s + 2 * self.kill_wait_s


# --- restarts -------------------------------------------------------------------------------------
def recent(history: tuple[int, ...], now_ms: int, window_s: float) -> tuple[int, ...]:
    """The restart times (UTC ms) of `history` that are inside the window ending at now."""
    start = now_ms - int(window_s * 1000)
    return tuple(t for t in history if t > start)


def backoff_ms(policy: SupervisorPolicy, restarts_in_window: int, u: float) -> int:
    """The wait before the next restart, in ms (module docstring); `u` in [0, 1) is the
    jitter's random draw, passed in so the rule stays a function."""
    exponent = min(restarts_in_window, 64)  # 2**64 × base is past any cap already
    raw = min(policy.backoff_max_s, policy.backoff_base_s * 2.0**exponent)
    return round(raw * (1 + policy.jitter * (2 * u - 1)) * 1000)


@dataclass(frozen=True, slots=True)
class RestartDecision:
    """What to do after a child failed: give up, or restart after `delay_ms`. `history` is the
    role's restart times to keep (this restart included, those outside the window dropped)."""

    give_up: bool
    delay_ms: int
    history: tuple[int, ...]

    @property
    def restarts_in_window(self) -> int:
        return len(self.history)


def after_failure(
    policy: SupervisorPolicy, history: tuple[int, ...], now_ms: int, u: float
) -> RestartDecision:
    """Decide about a child that just died or was killed as stuck at `now_ms`, given the times
    of its earlier restarts."""
    kept = recent(history, now_ms, policy.budget_window_s)
    if len(kept) >= policy.max_restarts:
        return RestartDecision(True, 0, kept)
    return RestartDecision(False, backoff_ms(policy, len(kept), u), (*kept, now_ms))


# --- health ---------------------------------------------------------------------------------------
class Health(Enum):
    STARTING = "starting"
    OK = "ok"
    DEAD = "dead"
    STUCK = "stuck"


def describe_exit(exitcode: int) -> str:
    """`exited with code 1`, or `killed by SIGKILL` for multiprocessing's negative codes."""
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def health(
    policy: SupervisorPolicy,
    *,
    pid: int,
    exitcode: int | None,
    started_ms: int,
    beat: Beat,
    now_ms: int,
) -> tuple[Health, str]:
    """How the child `pid` (started by us at `started_ms`) is doing, and why, given its
    board slot. A slot with another pid is an earlier process's (or empty): not beaten yet."""
    if exitcode is not None:
        return Health.DEAD, describe_exit(exitcode)
    if beat.pid != pid or beat.beats == 0:
        waited_s = (now_ms - started_ms) / 1000
        if waited_s > policy.start_grace_s:
            return Health.STUCK, f"no heartbeat {waited_s:.1f} s after start"
        return Health.STARTING, "starting"
    age_s = beat.age_ms(now_ms) / 1000
    if age_s > policy.stuck_after_s:
        return Health.STUCK, f"no heartbeat for {age_s:.1f} s"
    return Health.OK, "ok"
