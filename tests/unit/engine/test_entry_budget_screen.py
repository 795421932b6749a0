"""The float screen an entry passes before its exact margin budget test: whenever it answers
"clearly fits", the exact Decimal test (`qty × (entry / leverage + entry × taker)` against the
budget `share` less one commission quantum) agrees, so skipping that test changes no order."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from slt.domain.numbers import as_decimal
from slt.engine.entries import _clearly_fits
from slt.rules.fees import COMMISSION_QUANTUM

quantities = st.decimals("0.001", "100000", places=3)
prices = st.floats(1e-5, 200_000, allow_nan=False)
leverages = st.integers(1, 125)
taker_rates = st.sampled_from([0.0, 0.0002, 0.0004, 0.0005, 0.001])
shares = st.floats(0, 1e7, allow_nan=False)


@given(quantities, prices, leverages, taker_rates, shares)
@example(Decimal("1.000"), 100.0, 10, 0.0005, 10.05 + 5e-9)  # half a quantum short
def test_clearly_fits_only_when_the_exact_budget_test_passes(
    qty: Decimal, price: float, leverage: int, taker_rate: float, share: float
) -> None:
    entry = as_decimal(price)
    budget = max(Decimal(0), Decimal(repr(share)) - COMMISSION_QUANTUM)
    exact_fits = qty * (entry / leverage + entry * as_decimal(taker_rate)) <= budget
    if _clearly_fits(qty, price, leverage, taker_rate, share):
        assert exact_fits


@given(quantities, prices, leverages, taker_rates)
def test_a_budget_far_above_the_cost_is_seen_as_fitting(
    qty: Decimal, price: float, leverage: int, taker_rate: float
) -> None:
    """The screen is not vacuous: with twice the cost and a few USDT to spare, it says yes."""
    cost = float(qty) * (price / leverage + price * taker_rate)
    assert _clearly_fits(qty, price, leverage, taker_rate, 2 * cost + 1.0)
