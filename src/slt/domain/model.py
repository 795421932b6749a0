"""What happened to the model while trading: a retrain, and whether it was promoted."""

from __future__ import annotations

import msgspec


class ModelEvent(msgspec.Struct, frozen=True):
    """One retrain of a self-learning strategy.

    `time_ms` is when it happened (the close that triggered it); `trigger` says why
    ("initial", "trades" after every N closed trades, "age" when the champion grew too old).
    `challenger_id` is the model just trained; `champion_id` the one trading after the
    decision (the challenger when `promoted`). `metrics` are the out-of-sample figures the
    decision was made on (fractions and plain numbers, named by key); `note` says in words why
    it was or was not promoted.
    """

    time_ms: int
    trades_seen: int
    trigger: str
    challenger_id: str
    champion_id: str
    promoted: bool
    metrics: dict[str, float]
    note: str = ""
