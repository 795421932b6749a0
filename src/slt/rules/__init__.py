"""Binance USDⓈ-M exchange rules as pure functions over exact numbers.

Symbol filters and rounding, order validation and repair, leverage brackets, margin and
liquidation price, fees and funding. Nothing here touches the network, a clock or a database;
the only I/O is reading the exchange rules shipped with the package (`bundled_rules`).
"""

from slt.rules.brackets import Bracket
from slt.rules.bundled import bundled_rules
from slt.rules.codes import ErrorCode
from slt.rules.exchange import ExchangeRules, UnknownSymbolError, load_exchange_rules
from slt.rules.fees import DEFAULT_MAKER_RATE, DEFAULT_TAKER_RATE, quantize_amount, trading_fee
from slt.rules.funding import funding_payment, funding_times, next_funding_time
from slt.rules.margin import (
    entry_cost,
    initial_margin,
    isolated_liquidation_price,
    maintenance_margin,
    max_leverage_within_stop,
    notional,
)
from slt.rules.orders import check_order
from slt.rules.orders_fast import OrderCheck
from slt.rules.parsing import (
    brackets_from_binance_reply,
    brackets_from_ccxt_tiers,
    ccxt_to_binance_symbol,
    parse_symbol_rules,
)
from slt.rules.rounding import Rounding, round_to_step
from slt.rules.symbol import SymbolRules

__all__ = [
    "DEFAULT_MAKER_RATE",
    "DEFAULT_TAKER_RATE",
    "Bracket",
    "ErrorCode",
    "ExchangeRules",
    "OrderCheck",
    "Rounding",
    "SymbolRules",
    "UnknownSymbolError",
    "brackets_from_binance_reply",
    "brackets_from_ccxt_tiers",
    "bundled_rules",
    "ccxt_to_binance_symbol",
    "check_order",
    "entry_cost",
    "funding_payment",
    "funding_times",
    "initial_margin",
    "isolated_liquidation_price",
    "load_exchange_rules",
    "maintenance_margin",
    "max_leverage_within_stop",
    "next_funding_time",
    "notional",
    "parse_symbol_rules",
    "quantize_amount",
    "round_to_step",
    "trading_fee",
]
