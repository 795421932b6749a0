"""Value types shared by every layer; imports nothing else of the project."""

from slt.domain.candle import Candle, CandleSeries, interval_ms
from slt.domain.enums import ExitReason, Mode, OrderPurpose, OrderType, RejectReason, Side
from slt.domain.events import (
    Bar,
    BarsClosed,
    CancelOrder,
    Command,
    Event,
    FundingApplied,
    Notice,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    PlaceOrder,
    RecordTrade,
    Timer,
)
from slt.domain.model import ModelEvent
from slt.domain.orders import Fill, OrderRequest, client_order_id
from slt.domain.position import ExitLeg, Position, TradeRecord
from slt.domain.signal import Signal

__all__ = [
    "Bar",
    "BarsClosed",
    "CancelOrder",
    "Candle",
    "CandleSeries",
    "Command",
    "Event",
    "ExitLeg",
    "ExitReason",
    "Fill",
    "FundingApplied",
    "Mode",
    "ModelEvent",
    "Notice",
    "OrderAccepted",
    "OrderCanceled",
    "OrderFilled",
    "OrderPurpose",
    "OrderRejected",
    "OrderRequest",
    "OrderType",
    "PlaceOrder",
    "Position",
    "RecordTrade",
    "RejectReason",
    "Side",
    "Signal",
    "Timer",
    "TradeRecord",
    "client_order_id",
    "interval_ms",
]
