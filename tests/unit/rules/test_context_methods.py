"""Hot rules code calls the arithmetic context's methods instead of entering it, and the
liquidation solve is remembered: both must give exactly what the plain form gives.

`CALC.divmod(a, b)` is `divmod(a, b)` evaluated under `localcontext(CALC)` without copying the
context for each call. The references below are the plain forms, written as the rules package
wrote them before; results are compared down to the Decimal's digits and exponent (`str`).
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from hypothesis import given
from hypothesis import strategies as st

from slt.rules import bundled_rules, isolated_liquidation_price, margin, trading_fee
from slt.rules.fees import COMMISSION_QUANTUM
from slt.rules.rounding import CALC, Rounding, is_on_step, round_to_step

RULES = bundled_rules()
BTC = RULES.get("BTCUSDT")


def _ref_round(value: Decimal, step: Decimal, rounding: Rounding) -> Decimal:
    with localcontext(CALC):
        units, remainder = divmod(value, step)
        if remainder != 0:
            away = Decimal(1) if value > 0 else Decimal(-1)
            if rounding is Rounding.UP or (
                rounding is Rounding.NEAREST and 2 * abs(remainder) >= step
            ):
                units += away
        return units * step


def _ref_fee(notional: Decimal, rate: Decimal) -> Decimal:
    with localcontext(CALC):
        result = (abs(notional) * rate).quantize(COMMISSION_QUANTUM)
        return abs(result) if result == 0 else result


decimals = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, places=12
)
steps = st.sampled_from([Decimal(s) for s in ("0.1", "0.10", "0.001", "0.0005", "1", "5", "1E+1")])


@given(value=decimals, step=steps, rounding=st.sampled_from(list(Rounding)))
def test_round_to_step_equals_the_localcontext_form(
    value: Decimal, step: Decimal, rounding: Rounding
) -> None:
    assert str(round_to_step(value, step, rounding)) == str(_ref_round(value, step, rounding))
    with localcontext(CALC):
        assert is_on_step(value, step) == (value % step == 0)


@given(notional=decimals, rate=st.sampled_from([Decimal("0.0005"), Decimal("-0.0002")]))
def test_trading_fee_equals_the_localcontext_form(notional: Decimal, rate: Decimal) -> None:
    assert str(trading_fee(notional, rate)) == str(_ref_fee(notional, rate))


def test_remembered_liquidation_tells_equal_numbers_written_differently_apart() -> None:
    table = margin._table_of(BTC.brackets)
    spellings = [
        ("0.010", "60000.0", "60.00"),
        ("0.01", "60000", "60"),
        ("0.010", "60000.0", "60.00"),
    ]
    answers = []
    for qty, entry, wallet in spellings:
        q, e, w = Decimal(qty), Decimal(entry), Decimal(wallet)
        got = isolated_liquidation_price(BTC, side=1, quantity=q, entry_price=e, wallet_balance=w)
        with localcontext(CALC):
            solved = margin._liquidation(table, 1, q, e, w)
        assert got is not None and str(got) == str(solved)  # each from its own digits
        answers.append(got)
    assert answers[0] == answers[1] and str(answers[0]) == str(answers[2])
