"""The backtest's caches answer exactly what a fresh computation would.

The simulated venue keeps each symbol's trigger levels until its orders or position change, and
the waker keeps each position's close wake-up levels by the fields they depend on. Whole runs on
the bundled sample (default settings, and tight stops with trailing so levels move often) check
every cached answer against a fresh computation at the moment it is used.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from slt.backtest import waker as waker_module
from slt.backtest.driver import run_backtest
from slt.config import load_settings
from slt.domain import Candle, CandleSeries, Event, Position
from slt.risk.exits import close_wake_levels
from slt.rules import ExchangeRules
from slt.strategy.baseline import EmaAtrBaseline
from slt.venues.simulated import SimulatedVenue
from slt.venues.simulated.book import trigger_levels_of

TIGHT = {
    "stop_loss_pct": 0.003,
    "take_profit_pct": 0.006,
    "trailing_activation_pct": 0.002,
    "trailing_distance_pct": 0.001,
}


def fresh_levels(venue: SimulatedVenue, symbol: str) -> tuple[float, float]:
    return trigger_levels_of(venue.positions.get(symbol), venue.resting.get(symbol, ()))


@pytest.mark.parametrize("risk", [{}, TIGHT], ids=["defaults", "tight"])
def test_cached_levels_equal_fresh_ones(
    sample: dict[str, CandleSeries],
    rules: ExchangeRules,
    monkeypatch: pytest.MonkeyPatch,
    risk: dict[str, float],
) -> None:
    checked = {"venue": 0, "waker": 0, "cache": 0}
    cached_venue = SimulatedVenue.trigger_levels

    def venue_levels(self: SimulatedVenue, symbol: str) -> tuple[float, float]:
        got = cached_venue(self, symbol)
        assert got == fresh_levels(self, symbol)
        checked["venue"] += 1
        return got

    def check_cache(venue: SimulatedVenue) -> None:
        # the driver reads the cached levels directly to skip on_range: all must be current
        for symbol, got in venue.levels.items():
            assert got == fresh_levels(venue, symbol)
            checked["cache"] += 1

    opened = SimulatedVenue.on_open

    def venue_open(self: SimulatedVenue, candle: Candle) -> list[Event]:
        check_cache(self)
        return opened(self, candle)

    # The driver calls on_open only when it has something to do (funding due, an order
    # queued), so the cache is also checked at every wake-up, before each processed step's
    # candles: whatever the venue does at the open drops the levels it changes.
    next_step = waker_module.Waker.next_step

    def waker_next_step(self: waker_module.Waker, g: int) -> int:
        check_cache(self.run.venue)
        return next_step(self, g)

    cached_waker: Callable[[waker_module.Waker, Position], tuple[float, float]]
    cached_waker = waker_module.Waker._close_wake_levels

    def waker_levels(self: waker_module.Waker, pos: Position) -> tuple[float, float]:
        got = cached_waker(self, pos)
        assert got == close_wake_levels(self.risk, self.rules.get(pos.symbol), pos)
        checked["waker"] += 1
        return got

    monkeypatch.setattr(SimulatedVenue, "trigger_levels", venue_levels)
    monkeypatch.setattr(SimulatedVenue, "on_open", venue_open)
    monkeypatch.setattr(waker_module.Waker, "next_step", waker_next_step)
    monkeypatch.setattr(waker_module.Waker, "_close_wake_levels", waker_levels)
    settings = load_settings(risk=risk)
    result = run_backtest(sample, EmaAtrBaseline(settings.baseline), settings, rules)
    assert result.trades
    assert checked["venue"] > 500 and checked["waker"] > 500 and checked["cache"] > 500
