"""The Feed's data firewall: every closed candle is checked here before the Brain sees it.

A bad candle that reaches the Brain moves indicators, labels and stops; one that is caught
here costs one missing bar, which the Feed backfills. So the firewall is strict, and it is
pure (no I/O, no clock, no logging): `Firewall.check` takes a `Candle` and returns a
`Verdict`, counting what it decided. It never raises on a bad candle.

Rules, in the order they are applied (the first that fails names the reason):

1. `schema` — the fields have their declared types, times are ints, and the candle is one
   bar of the configured interval: open time aligned, close time = open time + interval − 1.
2. `unknown_symbol` — the symbol is one the Feed subscribed to.
3. `price` — open, high, low and close are finite and > 0.
4. `ohlc` — high ≥ max(open, close) ≥ min(open, close) ≥ low.
5. `volume` — finite and ≥ 0.
6. `duplicate` / `out_of_order` — open time strictly increases per symbol.
7. `jump` — no price moves implausibly far from the previous accepted close.

State is per symbol: the open time and close of the last *accepted* candle. A rejected
candle never changes it, so a bad print cannot become the reference the next candle is
judged against. When an accepted candle's open time is more than one interval after the
previous one, the verdict carries the missing open times `(first, last)` for backfill.

Times are int UTC ms; `max_jump` is a fraction (0.2 = 20 %).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from slt.domain import Candle

_INF = float("inf")


class Reason(StrEnum):
    """Why a candle was rejected; the closed set of codes used as counter keys."""

    SCHEMA = "schema"
    UNKNOWN_SYMBOL = "unknown_symbol"
    PRICE = "price"
    OHLC = "ohlc"
    VOLUME = "volume"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    JUMP = "jump"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The firewall's answer for one candle.

    `reason` is None when the candle is accepted. `gap` is set only on an accepted candle
    that follows a hole: the open times of the first and last missing candles, inclusive.
    """

    reason: Reason | None = None
    gap: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


ACCEPTED = Verdict()
_REJECT: dict[Reason, Verdict] = {r: Verdict(r) for r in Reason}


def _is_num(x: object) -> bool:
    # bool is an int subclass but never a price; exact type checks are also the fastest.
    t = type(x)
    return t is float or t is int


class Firewall:
    """Checks closed candles of a fixed symbol set and one interval; see the module docstring.

    `max_jump` is the largest allowed move of open, high, low or close from the previous
    accepted close, as a fraction of that close. It applies only while the previous candle is
    recent: open times at most `jump_window` intervals apart. Why the window: a one-minute
    move of more than 20 % on a USDⓈ-M perpetual is far more likely a bad print than a market
    (price bands and liquidations keep real one-minute moves much smaller), but after a long
    gap — an outage, a delisting pause, a reconnect after hours — the market may really have
    moved that far, and rejecting the first candle after the gap would leave the symbol stuck
    on a stale reference. The window also makes the guard self-healing: if a genuine move is
    rejected, the candles after it are rejected only until the last accepted one is more than
    `jump_window` intervals old; then the next candle is accepted (its verdict carries the
    gap) and becomes the new reference.
    """

    __slots__ = (
        "_last",
        "_symbols",
        "accepted",
        "gaps",
        "interval_ms",
        "jump_window",
        "max_jump",
        "missing_candles",
        "rejected",
    )

    def __init__(
        self,
        symbols: Iterable[str],
        interval_ms: int = 60_000,
        *,
        max_jump: float = 0.2,
        jump_window: int = 5,
    ) -> None:
        self._symbols = frozenset(symbols)
        if not self._symbols:
            raise ValueError("Firewall needs at least one symbol")
        if type(interval_ms) is not int or interval_ms <= 0:
            raise ValueError(f"interval_ms must be a positive int, got {interval_ms!r}")
        if not 0.0 < max_jump < _INF:
            raise ValueError(f"max_jump must be a positive fraction, got {max_jump!r}")
        if type(jump_window) is not int or jump_window < 1:
            raise ValueError(f"jump_window must be an int ≥ 1, got {jump_window!r}")
        self.interval_ms = interval_ms
        self.max_jump = float(max_jump)
        self.jump_window = jump_window
        # symbol -> (open time, close) of the last accepted candle
        self._last: dict[str, tuple[int, float]] = {}
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.gaps = 0
        self.missing_candles = 0

    @property
    def symbols(self) -> frozenset[str]:
        return self._symbols

    @property
    def checked(self) -> int:
        """Candles seen: accepted plus every rejection."""
        return self.accepted + sum(self.rejected.values())

    def last(self, symbol: str) -> tuple[int, float] | None:
        """(open time, close) of the last accepted candle of *symbol*, or None."""
        return self._last.get(symbol)

    def reset(self, symbol: str | None = None) -> None:
        """Forget the last accepted candle of *symbol* (all symbols when None).

        For when the Feed replaces its view of a symbol wholesale, e.g. after a resync from
        REST: the next candle is then judged on its own, with no ordering or jump check.
        Counters are kept.
        """
        if symbol is None:
            self._last.clear()
        else:
            self._last.pop(symbol, None)

    def check_many(self, candles: Iterable[Candle]) -> list[Verdict]:
        """`check` each candle in order; verdicts align with the input."""
        check = self.check
        return [check(c) for c in candles]

    def check(self, candle: Candle) -> Verdict:
        """Accept *candle* (updating the symbol's state) or reject it with a `Reason`."""
        reason = self._reason(candle)
        if reason is not None:
            self.rejected[reason] += 1
            return _REJECT[reason]
        symbol = candle.symbol
        open_time = candle.open_time
        prev = self._last.get(symbol)
        self._last[symbol] = (open_time, candle.close)
        self.accepted += 1
        if prev is None:
            return ACCEPTED
        step = self.interval_ms
        missing = (open_time - prev[0]) // step - 1
        if missing == 0:
            return ACCEPTED
        self.gaps += 1
        self.missing_candles += missing
        return Verdict(None, (prev[0] + step, open_time - step))

    def _reason(self, c: Candle) -> Reason | None:
        # Schema. msgspec Structs are not validated on construction, and a candle built from
        # a mis-decoded frame (a string price, a float time) would break arithmetic further
        # down or silently misplace the bar; the interval arithmetic catches a candle of the
        # wrong interval or a partial bar relabelled as closed.
        symbol = c.symbol
        open_time = c.open_time
        close_time = c.close_time
        o, h, lo, cl, v = c.open, c.high, c.low, c.close, c.volume
        step = self.interval_ms
        if (
            type(symbol) is not str
            or type(open_time) is not int
            or type(close_time) is not int
            or not (_is_num(o) and _is_num(h) and _is_num(lo) and _is_num(cl) and _is_num(v))
            or open_time < 0
            or open_time % step != 0
            or close_time != open_time + step - 1
        ):
            return Reason.SCHEMA
        # Known symbol: anything else is a subscription or routing bug; the Brain has no
        # state for it and must not start trading it by accident.
        if symbol not in self._symbols:
            return Reason.UNKNOWN_SYMBOL
        # Finite positive prices: NaN and inf poison every rolling statistic they touch, and a
        # zero or negative price has no meaning for a perpetual (and divides by zero in returns).
        # The chained comparison is False for NaN as well.
        if not (0.0 < o < _INF and 0.0 < h < _INF and 0.0 < lo < _INF and 0.0 < cl < _INF):
            return Reason.PRICE
        # OHLC consistency: the high and low bound every trade of the bar, open and close
        # included. A violation means the fields are swapped or from different bars.
        if not (h >= (o if o > cl else cl) and (cl if o > cl else o) >= lo):
            return Reason.OHLC
        # Volume: a count of contracts, never negative; non-finite is a decode error.
        if not 0.0 <= v < _INF:
            return Reason.VOLUME
        prev = self._last.get(symbol)
        if prev is None:
            return None
        # Monotonic open time: the Brain consumes bars in order, once. A repeat of the last
        # bar (a reconnect replaying it) is `duplicate`; anything older is `out_of_order` and
        # would rewrite history the Brain has already acted on.
        prev_open, prev_close = prev
        if open_time <= prev_open:
            return Reason.DUPLICATE if open_time == prev_open else Reason.OUT_OF_ORDER
        # Implausible jump (see the class docstring for the window). Since low ≤ open, close
        # ≤ high was checked above, testing high and low bounds all four prices.
        if open_time - prev_open <= self.jump_window * step:
            band = self.max_jump * prev_close
            if h - prev_close > band or prev_close - lo > band:
                return Reason.JUMP
        return None
