"""How much training data a live retrain may take: the window bounded by the child's memory cap.

The job (`slt.live.learning_job`) runs under `RLIMIT_AS` = `ModelConfig.memory_limit_mb`. Its
memory grows with the rows it builds: two per candle (a long and a short), for the whole
trailing window of every live symbol, warm-up bars included (`build_dataset` builds their rows
before it drops them). 300 symbols × 60 days of 1m candles is 52 M rows, about 22 GiB: a job
that size fails at every retrain, and the champion then never improves. So the job plans its
window before it loads a candle, and keeps what fits.

Measured on 10 random-walk symbols (0.4 M, 1 M and 2 M rows; `build_dataset` then
`train_challenger`, 2 threads): the child's peak address space grew by about 440 bytes per
row over a fixed part of about 680 MiB (interpreter, numpy, numba, XGBoost and their thread
arenas). The peak is in `build_dataset` (per-direction parts, their concatenation, the sort's
copy); XGBoost's own matrices add less. The estimate below is 13 inputs × 8 bytes × 6 copies =
624 bytes per row (1.4 times the measured slope), on a budget of the cap less 1 GiB (1.5 times
the measured fixed part). With the default 4096 MiB cap that is about 5 M rows: 300 symbols
train on their last 5.5 days of 1m candles; the whole 60-day window of 300 symbols needs a cap
of about 32 GiB.

The rule, deterministic and causal (it depends only on the window's grid, the symbol count, the
configuration and `now_ms`, never on the data):

* rows = 2 × symbols × (bars of the window + warm-up bars), as if every symbol had every candle
  (an upper bound: a symbol listed recently has fewer);
* when they exceed the budget, the oldest bars of every symbol are dropped together (one time
  cut across all symbols) until they fit. The most recent bars are always kept, so the
  held-out slice the champion/challenger decision is made on — the last `holdout_fraction` of
  the rows trained on, split after this cut — is never dropped, and holds every symbol;
* a window shorter than one day is too little to train and judge a model on: the job then
  fails with what to raise, instead of training on a few hours or dying at the cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from slt.domain.candle import DAY_MS
from slt.model.errors import TrainingError
from slt.model.worker import MIB

ROWS_PER_BAR = 2
"""A long and a short row per candle (`slt.model.dataset`)."""
BYTES_PER_VALUE = 8
"""float64 inputs."""
ROW_COPIES = 6
"""Copies of a row alive at the job's peak, with margin (about 4.2 measured)."""
RESERVED_MIB = 1024
"""Address space the child uses before any row: interpreter, libraries, thread arenas (about
680 MiB measured), rounded up."""
MIN_WINDOW_MS = DAY_MS
"""A shorter window (its holdout is a fifth of it) is not worth training and judging on."""


def bytes_per_row(inputs: int) -> int:
    """Estimated peak bytes per training row of `inputs` columns (features and direction)."""
    return inputs * BYTES_PER_VALUE * ROW_COPIES


def budget_bytes(memory_limit_mb: int) -> int:
    """What the rows may take under the child's cap (0 when the cap leaves nothing)."""
    return max(0, memory_limit_mb * MIB - RESERVED_MIB * MIB)


@dataclass(frozen=True, slots=True)
class WindowPlan:
    """The rows a job may build, and from when. Times are candle open times, int UTC ms."""

    window_start_ms: int
    """The configured window's first decision bar (`now − train_window_days`)."""
    since_ms: int
    """The first decision bar kept: `window_start_ms` unless the window was cut."""
    bars_per_symbol: int
    """Decision bars per symbol from `since_ms` on (at most; gaps make fewer)."""
    max_rows: int
    """Rows the budget holds, warm-up included."""
    planned_rows: int
    """Rows of the kept window at most: 2 × symbols × (bars + warm-up)."""

    @property
    def cut(self) -> bool:
        """The window was shortened to fit."""
        return self.since_ms > self.window_start_ms


def plan_window(
    *,
    now_ms: int,
    step_ms: int,
    window_days: int,
    symbols: int,
    warmup_bars: int,
    row_bytes: int,
    budget: int,
) -> WindowPlan:
    """The trailing window of decision bars closed by `now_ms` that fits `budget` bytes.

    Decision bars lie on the interval's grid from the first open time at or after
    `now − window_days` to the last one closed by `now_ms`. Raises `TrainingError` when fewer
    than `MIN_WINDOW_MS` of bars fit, naming the cap that would fit."""
    if symbols < 1 or step_ms < 1:
        raise ValueError("a window plan needs at least one symbol and a positive interval")
    window_start = -(-(now_ms - window_days * DAY_MS) // step_ms) * step_ms
    last_open = (now_ms - step_ms) // step_ms * step_ms  # closed by now_ms
    bars = max(0, (last_open - window_start) // step_ms + 1)
    per_bar = ROWS_PER_BAR * symbols
    max_rows = budget // row_bytes if row_bytes > 0 else 0
    fit_bars = min(bars, max_rows // per_bar - warmup_bars)
    if fit_bars >= bars:
        return WindowPlan(
            window_start, window_start, bars, max_rows, per_bar * (bars + warmup_bars)
        )
    need = min(bars, -(-MIN_WINDOW_MS // step_ms))
    if fit_bars < need:
        need_mib = -(-(per_bar * (need + warmup_bars) * row_bytes) // MIB) + RESERVED_MIB
        raise TrainingError(
            f"the training data does not fit the trainer's memory: {symbols} symbols need "
            f"{need_mib} MiB for one day of candles and the cap holds {max_rows} rows "
            f"(~{row_bytes} bytes each); raise model.memory_limit_mb to at least {need_mib} "
            "or trade fewer symbols"
        )
    since = last_open - (fit_bars - 1) * step_ms
    return WindowPlan(window_start, since, fit_bars, max_rows, per_bar * (fit_bars + warmup_bars))
