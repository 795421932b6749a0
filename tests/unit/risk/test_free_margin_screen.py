"""The float screen in front of the exact free-margin sum never vouches for a wrong answer.

`clearly_above` lets an entry skip the Decimal sum of `free_margin` when the free margin is
certainly above the equity share that caps the budget. It must never say True when the exact
free margin is at or below the floor; False ("may not be") is always allowed.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from slt.domain import Position
from slt.domain.enums import Side
from slt.risk.margin import clearly_above, free_margin

from ..positions import open_position

_amounts = st.decimals(min_value="0.00000001", max_value="1000000", places=8)
_prices = st.decimals(min_value="0.00001", max_value="100000", places=5)


@st.composite
def _positions(draw: st.DrawFn) -> Position:
    quantity = draw(st.decimals(min_value="0.001", max_value="100000", places=3))
    entry = draw(_prices)
    leverage = draw(st.integers(1, 125))
    mark = draw(st.floats(min_value=1e-5, max_value=1e5))
    side = draw(st.sampled_from([Side.LONG, Side.SHORT]))
    return open_position("BTCUSDT", side, quantity, entry, mark, leverage=leverage)


@settings(max_examples=400, deadline=None)
@given(
    balance=_amounts,
    positions=st.lists(_positions(), max_size=4),
    reserved=st.lists(_amounts, max_size=2),
    floor=st.floats(min_value=-1e6, max_value=1e6),
    nudge=st.sampled_from([0.0, 1e-12, -1e-12, 1e-6]),
)
def test_a_true_answer_means_the_exact_free_margin_is_above_the_floor(
    balance: Decimal,
    positions: list[Position],
    reserved: list[Decimal],
    floor: float,
    nudge: float,
) -> None:
    exact = free_margin(balance, positions, sum(reserved, Decimal(0)))
    # floors right at the exact answer are where a careless screen would go wrong
    for candidate in (floor, float(exact) * (1 + nudge), float(exact) + nudge):
        if clearly_above(balance, positions, reserved, candidate):
            assert exact > Decimal(repr(candidate))


def test_far_above_is_recognised_and_non_finite_is_not() -> None:
    assert clearly_above(Decimal(1000), [], [Decimal(1)], 10.0)
    assert not clearly_above(Decimal(1000), [], [], 1000.0)
    assert not clearly_above(Decimal(1000), [], [], float("nan"))
    assert not clearly_above(Decimal(1000), [], [], float("-inf"))
