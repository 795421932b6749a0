"""`is_emergency` reads `as_float`'s memo directly: the same answer as the plain computation in
`float()`, whether the conversions were remembered before or not."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from slt.config import RiskConfig
from slt.domain import ExitReason, Position, Side
from slt.domain.numbers import clear_memos
from slt.risk.exits import is_emergency

_POSITIVE = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1e6"), places=4)


def _plain(cfg: RiskConfig, pos: Position, price: float) -> bool:
    entry = float(pos.entry_price)
    loss = -(float(pos.quantity) * (price - entry) * int(pos.side))
    if loss >= cfg.emergency_margin_loss * float(pos.margin):
        return True
    if pos.liquidation_price is None:
        return False
    buffer = cfg.liquidation_buffer_pct * entry
    if pos.side is Side.LONG:
        return price <= float(pos.liquidation_price) + buffer
    return price >= float(pos.liquidation_price) - buffer


@given(
    st.sampled_from([Side.LONG, Side.SHORT]),
    _POSITIVE,
    _POSITIVE,
    _POSITIVE,
    st.none() | _POSITIVE,
    st.floats(min_value=0.0, max_value=2e6, allow_nan=False),
    st.booleans(),
)
def test_is_emergency_equals_the_plain_computation(
    side: Side,
    qty: Decimal,
    entry: Decimal,
    margin: Decimal,
    liq: Decimal | None,
    price: float,
    forget: bool,
) -> None:
    cfg = RiskConfig()
    pos = Position(
        symbol="BTCUSDT",
        side=side,
        quantity=qty,
        entry_price=entry,
        entry_time_ms=0,
        leverage=1,
        margin=margin,
        initial_quantity=qty,
        stop_price=entry,
        take_profit_price=None,
        partial_price=None,
        stop_client_id="s",
        stop_reason=ExitReason.STOP_LOSS,
        best_price=price,
        mark_price=price,
        liquidation_price=liq,
        expected_return=0.0,
        confidence=0.0,
        source="test",
    )
    if forget:
        clear_memos()
    want = _plain(cfg, pos, price)
    for _ in range(2):  # computed through as_float, then read from the memo
        assert is_emergency(cfg, pos, price) is want
