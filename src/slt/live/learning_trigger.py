"""When the live learner starts a retrain: after N closed trades, or when the champion is old.

Pure bookkeeping over the Brain's clock (int UTC ms of market time, a replay's in a replay), so
the rule is tested with plain numbers. `slt.live.learning` owns one and asks it at each closed
trade and each candle.

* **Trades.** Every `every_trades` closed trades since the last job started. Trades closing
  while a job runs keep counting.
* **Age.** The champion — the model trading now — is older than `max_age_ms`. Its age counts
  from the time it began trading by the Brain's clock: its registry record's creation time
  once the learner has read it, or the learner's start (the first time it saw the clock) when
  there is none or the record is younger than that start (a replay of past candles with a
  model made today); after a live promotion, from that retrain's `now_ms`. Until the record is
  read the learner's start stands in, which can only make the champion look younger: the
  trigger is never early.
* **Back-off.** After any job — promoted, kept or failed — the next age trigger waits one more
  age period from that job's start, and the trade trigger counts from zero again. The backtest's
  self-learning does the same (`slt.model.selflearn`): a job that fails for want of data or
  memory is retried a week later or after 50 new trades, never at every candle, and one that
  kept the champion is not repeated on nearly the same data.
* Never two jobs at once: the caller asks `reason` only when none runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from slt.domain.candle import DAY_MS

Trigger = Literal["trades", "age"]


@dataclass(slots=True)
class RetrainTrigger:
    """Closed trades since the last job, the champion's start and the last job's, in UTC ms."""

    every_trades: int
    max_age_ms: int
    closed: int = 0
    started_ms: int | None = None
    """The learner's start by the Brain's clock (the first time it saw it)."""
    champion_ms: int | None = None
    """When the champion began trading by the Brain's clock; None until known."""
    last_job_ms: int | None = None
    """`now_ms` of the last job started."""

    @classmethod
    def of_days(cls, every_trades: int, max_age_days: float) -> RetrainTrigger:
        return cls(every_trades, int(max_age_days * DAY_MS))

    def observe(self, now_ms: int) -> None:
        """The Brain's clock read `now_ms`: the first reading is the learner's start."""
        if self.started_ms is None:
            self.started_ms = now_ms

    def trade_closed(self) -> None:
        self.closed += 1

    def champion_created(self, created_ms: int | None) -> None:
        """The registry's champion record was read (None: there is none). A promotion seen
        since (`promoted`) already set a later start, which stands."""
        if self.champion_ms is not None or self.started_ms is None:
            return
        start = self.started_ms
        self.champion_ms = start if created_ms is None else min(created_ms, start)

    def promoted(self, now_ms: int) -> None:
        """A challenger trained on data up to `now_ms` became the champion."""
        self.champion_ms = now_ms

    def since_ms(self) -> int | None:
        """Since when the champion has traded, by the Brain's clock; None before any reading."""
        return self.champion_ms if self.champion_ms is not None else self.started_ms

    def due_ms(self) -> int | None:
        """When the age trigger fires: one age period after the champion's start or the last
        job's, whichever is later; None before the clock was read."""
        since = self.since_ms()
        if since is None:
            return None
        if self.last_job_ms is not None:
            since = max(since, self.last_job_ms)
        return since + self.max_age_ms

    def reason(self, now_ms: int) -> Trigger | None:
        """Why a job should start now (trades first), or None."""
        if self.closed >= self.every_trades:
            return "trades"
        due = self.due_ms()
        if due is not None and now_ms >= due:
            return "age"
        return None

    def job_started(self, now_ms: int) -> int:
        """A job starts at `now_ms`: the back-off begins; returns the trades it follows."""
        trades, self.closed = self.closed, 0
        self.last_job_ms = now_ms
        return trades

    def describe(self, trigger: Trigger, now_ms: int, trades: int) -> str:
        """Why, in words, for the log line of a job that starts now (call before
        `job_started`)."""
        if trigger == "trades":
            return f"after {trades} closed trades"
        since = self.since_ms()
        age = (now_ms - since) / DAY_MS if since is not None else float("nan")
        text = (
            f"because the champion is {age:.1f} days old (model.max_model_age_days "
            f"{self.max_age_ms / DAY_MS:g}), {trades} closed trades since the last retrain"
        )
        if self.last_job_ms is not None and (since is None or self.last_job_ms > since):
            text += f" {(now_ms - self.last_job_ms) / DAY_MS:.1f} days ago"
        return text
