"""Enumerations shared by every layer. Values match Binance's wire names where one exists."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Side(IntEnum):
    """Direction of a position or an order's effect: +1 long / buy, -1 short / sell."""

    LONG = 1
    SHORT = -1

    @property
    def order_side(self) -> str:
        """Binance order side that *opens* this direction."""
        return "BUY" if self is Side.LONG else "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SHORT if self is Side.LONG else Side.LONG


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"


class OrderPurpose(StrEnum):
    """Why the engine placed an order; in the client order id so fills explain themselves."""

    ENTRY = "EN"
    STOP_LOSS = "SL"
    TAKE_PROFIT = "TP"
    PARTIAL_TAKE_PROFIT = "PT"
    EXIT = "EX"


class ExitReason(StrEnum):
    """Reason code written into every trade record."""

    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    PARTIAL_TAKE_PROFIT = "partial_take_profit"
    TRAILING_STOP = "trailing_stop"
    TIME_EXIT = "time_exit"
    EMERGENCY = "emergency"
    SIGNAL_REVERSAL = "signal_reversal"
    ROTATION = "rotation"
    LIQUIDATION = "liquidation"
    END_OF_DATA = "end_of_data"
    SHUTDOWN = "shutdown"
    """`slt run --flatten`: every position closed when the run stops."""


class RejectReason(StrEnum):
    """Why an order was refused before or at the venue."""

    FILTER = "filter"
    MIN_NOTIONAL = "min_notional"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    PERCENT_PRICE = "percent_price"
    UNKNOWN_SYMBOL = "unknown_symbol"
    NO_POSITION = "no_position"
    RISK_BUDGET = "risk_budget"


class Mode(StrEnum):
    BACKTEST = "backtest"
    PAPER = "paper"
    LIVE = "live"
