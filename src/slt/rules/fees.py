"""Trading fees, the way Binance books them: notional × rate, to 8 decimals of the margin asset.

The ledger sums fees over thousands of fills, so each fee is quantized exactly as the exchange
reports a commission (8 decimals), and the simulated and live ledgers agree to the last unit.
"""

from __future__ import annotations

from decimal import Decimal

from slt.rules.rounding import CALC

COMMISSION_QUANTUM = Decimal("0.00000001")
"""Binance reports commissions and funding fees with 8 decimals."""

DEFAULT_MAKER_RATE = Decimal("0.0002")
DEFAULT_TAKER_RATE = Decimal("0.0005")
"""Regular (VIP 0) USDⓈ-M rates; live trading should read GET /fapi/v1/commissionRate instead."""


def quantize_amount(amount: Decimal) -> Decimal:
    """An amount of the margin asset at Binance's 8-decimal precision, halves away from zero."""
    # Positional arguments: the rounding left to CALC's own (ROUND_HALF_UP), as keywords cost
    # the call twice what the quantize itself does (every fill, fee and funding comes here).
    result = amount.quantize(COMMISSION_QUANTUM, None, CALC)
    return result if result else CALC.abs(result)  # no '-0E-8' in the ledger


def trading_fee(notional: Decimal, rate: Decimal) -> Decimal:
    """Fee for one fill: |notional| × rate, quantized to 8 decimals (ROUND_HALF_UP).

    A negative rate (a maker rebate) gives a negative fee, i.e. a credit.
    """
    return quantize_amount(CALC.multiply(CALC.abs(notional), rate))
