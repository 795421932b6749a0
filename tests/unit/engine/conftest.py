"""A realistic little world for engine scenarios: the real bundled Binance rules, default risk and
fee settings, an `Engine` and a `SimulatedVenue` on one account, and a driver loop that does per
candle what the backtest driver does (funding and queued market orders at the open, intrabar
triggers, then the closed candle with its signal to the engine).

Tests state only what matters to them, e.g.::

    world.bar("BTCUSDT", 100, signal=world.long("BTCUSDT"))   # decide at this close
    world.bar("BTCUSDT", 101, high=103)                       # fills at this open
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from slt.config import FeeConfig, RiskConfig
from slt.domain import (
    Bar,
    BarsClosed,
    CancelOrder,
    Candle,
    Command,
    Event,
    ExitReason,
    FundingApplied,
    Notice,
    OrderRejected,
    PlaceOrder,
    Position,
    RecordTrade,
    Signal,
    Timer,
    TradeRecord,
)
from slt.engine.engine import Engine
from slt.engine.state import EngineState
from slt.rules import bundled_rules
from slt.venues.simulated import SimulatedVenue

T0 = 1_704_067_200_000  # 2024-01-01 00:00:00 UTC, a funding instant
MINUTE = 60_000
BALANCE = Decimal("10000")


def candle(
    symbol: str,
    open_time: int,
    open: float,
    high: float | None = None,
    low: float | None = None,
    close: float | None = None,
    *,
    interval_ms: int = MINUTE,
) -> Candle:
    """A closed candle; high/low default to cover open and close, close defaults to open."""
    c = open if close is None else close
    h = max(open, c) if high is None else high
    lo = min(open, c) if low is None else low
    return Candle(symbol, open_time, open_time + interval_ms - 1, open, h, lo, c, 1.0)


def signal(
    symbol: str,
    direction: int,
    *,
    expected_return: float = 0.01,
    confidence: float = 0.8,
    atr_pct: float = 0.005,
    time_ms: int = 0,
    source: str = "test",
) -> Signal:
    return Signal(symbol, time_ms, direction, expected_return, confidence, atr_pct, source)


@dataclass
class World:
    """Engine + simulated venue on one account, driven candle by candle like the backtest driver.

    Everything that crosses the engine/venue boundary is logged: `events` (what the engine was
    fed), `commands` (what it answered), `trades` (RecordTrade payloads), `rejections` (venue
    OrderRejected events) and `transitions` (state in, event, state out, commands), which replay
    tests use. Every step also checks that the engine left the state it was given untouched.
    """

    engine: Engine
    venue: SimulatedVenue
    state: EngineState
    interval_ms: int = MINUTE
    now: int = T0
    marks: dict[str, float] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    trades: list[TradeRecord] = field(default_factory=list)
    rejections: list[OrderRejected] = field(default_factory=list)
    transitions: list[tuple[EngineState, Event, EngineState, list[Command]]] = field(
        default_factory=list
    )

    # -- builders -------------------------------------------------------------------------------
    def long(self, symbol: str, **kw: Any) -> Signal:
        """A long signal decided at the close of the candle about to be fed."""
        return signal(symbol, 1, time_ms=self.now + self.interval_ms, **kw)

    def short(self, symbol: str, **kw: Any) -> Signal:
        return signal(symbol, -1, time_ms=self.now + self.interval_ms, **kw)

    # -- driving --------------------------------------------------------------------------------
    def feed(self, events: Iterable[Event]) -> None:
        for event in events:
            self.events.append(event)
            if isinstance(event, OrderRejected):
                self.rejections.append(event)
            before = self.state
            snapshot = msgspec.msgpack.encode(before)
            self.state, cmds = self.engine.step(before, event)
            assert msgspec.msgpack.encode(before) == snapshot, "step mutated its input state"
            self.transitions.append((before, event, self.state, list(cmds)))
            self.execute(cmds)

    def execute(self, cmds: list[Command]) -> None:
        for cmd in cmds:
            self.commands.append(cmd)
            if isinstance(cmd, PlaceOrder | CancelOrder):
                sym = cmd.order.symbol if isinstance(cmd, PlaceOrder) else cmd.symbol
                mark = self.marks.get(sym, 0.0)
                self.feed(self.venue.submit(cmd, self.state.time_ms, mark))
            elif isinstance(cmd, RecordTrade):
                self.trades.append(cmd.trade)

    def step(self, candles: Iterable[Candle], signals: dict[str, Signal] | None = None) -> None:
        """One candle time across symbols, in the backtest driver's order."""
        cs = list(candles)
        for c in cs:
            self.marks[c.symbol] = c.open
            self.feed(self.venue.on_open(c))
        for c in cs:
            self.feed(self.venue.on_range(c))
        bars = []
        for c in cs:
            self.marks[c.symbol] = c.close
            bars.append(Bar(c, (signals or {}).get(c.symbol)))
        self.feed([BarsClosed(self.now + self.interval_ms, tuple(bars))])
        self.now += self.interval_ms

    def bar(
        self,
        symbol: str,
        open: float,
        *,
        high: float | None = None,
        low: float | None = None,
        close: float | None = None,
        signal: Signal | None = None,
    ) -> None:
        """One candle of one symbol (and the signal decided at its close)."""
        c = candle(symbol, self.now, open, high, low, close, interval_ms=self.interval_ms)
        self.step([c], {symbol: signal} if signal is not None else None)

    def timer(self, time_ms: int) -> None:
        self.feed([Timer(time_ms)])

    def close_all(self, reason: ExitReason = ExitReason.END_OF_DATA) -> None:
        """Flatten at market and fill at the last marks, as the driver does when data ends."""
        self.state, cmds = self.engine.close_all(self.state, self.now, reason)
        self.execute(cmds)
        for sym in sorted(self.venue.market):
            self.feed(self.venue.flush(sym, self.marks[sym], self.now))

    # -- views ----------------------------------------------------------------------------------
    def position(self, symbol: str) -> Position | None:
        return self.state.position(symbol)

    def held(self, symbol: str) -> Position:
        """The engine's open position on `symbol`; fails the test when there is none."""
        pos = self.state.position(symbol)
        assert pos is not None, f"no position on {symbol}"
        return pos

    def placed(self) -> list[PlaceOrder]:
        return [c for c in self.commands if isinstance(c, PlaceOrder)]

    def notices(self, prefix: str = "") -> list[Notice]:
        return [c for c in self.commands if isinstance(c, Notice) and c.kind.startswith(prefix)]

    def funding(self) -> list[FundingApplied]:
        return [e for e in self.events if isinstance(e, FundingApplied)]

    def open_and_fill(self, symbol: str, price: float, direction: int = 1, **kw: Any) -> Position:
        """Signal at a close of `price`, fill at the next open of `price`: the position."""
        sig = self.long(symbol, **kw) if direction > 0 else self.short(symbol, **kw)
        self.bar(symbol, price, signal=sig)
        self.bar(symbol, price)
        pos = self.position(symbol)
        assert pos is not None, f"no position opened: {self.notices()}"
        return pos


WorldFactory = Callable[..., World]


def make_world(
    risk: RiskConfig | None = None,
    fees: FeeConfig | None = None,
    *,
    balance: Decimal = BALANCE,
    interval_ms: int = MINUTE,
    start: int = T0,
) -> World:
    """A world on the bundled rules; `risk`/`fees` default to the shipped defaults."""
    rules = bundled_rules()
    risk = risk or RiskConfig()
    fees = fees or FeeConfig()
    engine = Engine(rules, risk, fees)
    venue = SimulatedVenue(rules, fees, balance)
    return World(engine, venue, engine.initial_state(balance), interval_ms=interval_ms, now=start)


@pytest.fixture
def world() -> World:
    """Default settings, 10 000 USDT, 1-minute candles from 2024-01-01 00:00 UTC."""
    return make_world()


@pytest.fixture
def world_with() -> WorldFactory:
    """`world_with(risk=..., fees=..., balance=..., interval_ms=..., start=...)`."""
    return make_world


@pytest.fixture
def no_costs() -> FeeConfig:
    """No fees, no slippage, no funding: fills land exactly on the prices a test names."""
    return FeeConfig(taker_rate=0, maker_rate=0, slippage_pct=0, funding_rate=0)
