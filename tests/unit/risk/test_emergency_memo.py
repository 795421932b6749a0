"""`is_emergency` and `trailed_stop` read `as_float`'s memo directly: the same answers as the
plain computations in `float()`, whether the conversions were remembered before or not."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from slt.config import RiskConfig
from slt.domain import Position, Side
from slt.domain.numbers import clear_memos
from slt.risk.exits import is_emergency, trailed_stop
from slt.rules import Rounding, SymbolRules, bundled_rules

from ..positions import open_position

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


def _position(
    side: Side, qty: Decimal, entry: Decimal, margin: Decimal, liq: Decimal | None, price: float
) -> Position:
    return open_position("BTCUSDT", side, qty, entry, price, margin=margin, liquidation_price=liq)


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
    pos = _position(side, qty, entry, margin, liq, price)
    if forget:
        clear_memos()
    want = _plain(cfg, pos, price)
    for _ in range(2):  # computed through as_float, then read from the memo
        assert is_emergency(cfg, pos, price) is want


@given(
    st.sampled_from([Side.LONG, Side.SHORT]),
    _POSITIVE,
    st.floats(min_value=0.0001, max_value=2e6, allow_nan=False),
    st.booleans(),
)
def test_trailed_stop_equals_the_plain_computation(
    side: Side, entry: Decimal, best: float, forget: bool
) -> None:
    cfg = RiskConfig()
    rules = bundled_rules().get("BTCUSDT")
    pos = _position(side, Decimal(1), entry, Decimal(1), None, best)
    if forget:
        clear_memos()
    want = _plain_trailed(cfg, rules, pos)
    for _ in range(2):
        assert trailed_stop(cfg, rules, pos) == want


def _plain_trailed(cfg: RiskConfig, rules: SymbolRules, pos: Position) -> Decimal | None:
    ent = float(pos.entry_price)
    s = int(pos.side)
    best = pos.best_price
    if s * (best - ent) / ent < cfg.trailing_activation_pct:
        return None
    rounding = Rounding.DOWN if s > 0 else Rounding.UP
    candidate = rules.round_price(
        Decimal(repr(best * (1 - s * cfg.trailing_distance_pct))), rounding
    )
    if s * (candidate - pos.stop_price) >= rules.tick_size:
        return candidate
    return None


@given(
    st.sampled_from([Side.LONG, Side.SHORT]),
    st.sampled_from(["BTCUSDT", "DOGEUSDT", "XLMUSDT", "ETCUSDT"]),
    st.floats(min_value=1e-4, max_value=2e6, allow_nan=False),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([Decimal(0), Decimal("1e-12"), Decimal("0.5"), Decimal("0.999999999999")]),
)
def test_trailed_stop_screen_near_the_stop(
    side: Side, symbol: str, best: float, ticks: int, fraction: Decimal
) -> None:
    """Stops within a few ticks of the trailed level, on and off the grid: the float screen in
    front of the exact rounding never answers differently from the plain computation."""
    cfg = RiskConfig()
    rules = bundled_rules().get(symbol)
    s = int(side)
    trailed = Decimal(repr(best * (1 - s * cfg.trailing_distance_pct)))
    stop = trailed + (ticks + fraction) * rules.tick_size
    entry = Decimal("1e-6") if s > 0 else Decimal("1e8")  # trailing active
    pos = msgspec.structs.replace(
        _position(side, Decimal(1), entry, Decimal(1), None, best), stop_price=stop
    )
    assert trailed_stop(cfg, rules, pos) == _plain_trailed(cfg, rules, pos)
