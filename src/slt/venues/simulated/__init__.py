"""Fill simulation for backtest and paper trading, under the same rules as the exchange."""

from slt.venues.simulated.venue import SimulatedVenue

__all__ = ["SimulatedVenue"]
