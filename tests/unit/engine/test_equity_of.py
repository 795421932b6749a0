"""`equity_of` reads `as_float`'s memo directly: the same float as the plain computation, bit for
bit, whether the conversions were remembered before or not."""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from slt.domain import Position
from slt.domain.enums import Side
from slt.domain.numbers import as_float, clear_memos, remembered_float
from slt.engine.state import equity_of

from ..positions import open_position

_AMOUNTS = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, places=8
)
_PRICES = st.decimals(min_value=Decimal("0"), max_value=Decimal("1e6"), allow_nan=False, places=6)
_MARKS = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)


def _position(symbol: str, side: Side, qty: Decimal, entry: Decimal, mark: float) -> Position:
    return open_position(symbol, side, qty, entry, mark, margin=Decimal(1))


def _plain(balance: Decimal, positions: list[Position]) -> float:
    return float(balance) + sum(
        [float(p.quantity) * (p.mark_price - float(p.entry_price)) * int(p.side) for p in positions]
    )


def _same(a: float, b: float) -> bool:
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@given(
    _AMOUNTS,
    st.lists(
        st.tuples(st.sampled_from([Side.LONG, Side.SHORT]), _AMOUNTS, _PRICES, _MARKS), max_size=4
    ),
    st.booleans(),
)
def test_equity_of_equals_the_plain_sum(
    balance: Decimal, legs: list[tuple[Side, Decimal, Decimal, float]], forget: bool
) -> None:
    positions = [_position(f"S{i}", *leg) for i, leg in enumerate(legs)]
    if forget:
        clear_memos()
    want = _plain(balance, positions)
    for _ in range(2):  # computed through as_float, then read from the memo
        assert _same(equity_of(balance, positions), want)


def test_memo_lookup_survives_clearing_and_never_holds_zero() -> None:
    clear_memos()
    assert remembered_float(Decimal("1.5")) is None
    as_float(Decimal("1.5"))
    assert remembered_float(Decimal("1.5")) == 1.5
    clear_memos()
    assert remembered_float(Decimal("1.5")) is None
    as_float(Decimal("-0"))
    as_float(Decimal("0"))
    assert remembered_float(Decimal("0")) is None
    assert _same(equity_of(Decimal("-0"), []), float(Decimal("-0")) + sum([]))


@given(
    _AMOUNTS,
    st.lists(
        st.tuples(st.sampled_from([Side.LONG, Side.SHORT]), _AMOUNTS, _PRICES, _MARKS),
        min_size=1,
        max_size=4,
    ),
    _MARKS,
    _AMOUNTS,
)
def test_the_last_answer_is_reused_only_for_the_same_objects(
    balance: Decimal,
    legs: list[tuple[Side, Decimal, Decimal, float]],
    new_mark: float,
    new_balance: Decimal,
) -> None:
    """Interleaved books (another mark, another balance, one position fewer, the same values in
    new objects, a list or a tuple): every answer is the plain sum of the book asked about."""
    book = [_position(f"S{i}", *leg) for i, leg in enumerate(legs)]
    side, qty, entry, _ = legs[-1]
    remarked = [*book[:-1], _position(f"S{len(legs) - 1}", side, qty, entry, new_mark)]
    copies = [_position(f"S{i}", *leg) for i, leg in enumerate(legs)]
    same_value = Decimal(str(balance))
    asks: list[tuple[Decimal, list[Position] | tuple[Position, ...]]] = [
        (balance, book),
        (balance, tuple(book)),
        (balance, remarked),
        (balance, book),
        (new_balance, book),
        (balance, book[:-1]),
        (same_value, copies),
        (balance, book),
        (balance, remarked),
        (balance, remarked),
    ]
    for bal, positions in asks:
        assert _same(equity_of(bal, positions), _plain(bal, list(positions)))
