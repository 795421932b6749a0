"""Margin and liquidation math of one isolated, one-way position (protocol notes §11.1-11.3).

The risk layer uses this to choose a leverage at which the exchange would liquidate the position
only well beyond our own stop: a stop that is never reached because liquidation came first is the
most expensive way to lose a trade (the liquidation fee comes on top). Results are exact Decimals
and not rounded; callers round prices onto the tick in the direction that is safe for them.

Speed. A backtest asks for liquidation prices thousands of times. The functions here state the
formulas and check their inputs; the searches themselves run in `slt.rules.margin_fast`, which
takes shortcuts that never change a result by a single digit (its notes say why, and
tests/unit/rules/test_margin_fastpath.py compares it with the plain algorithm).
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from slt.rules.fees import trading_fee
from slt.rules.margin_fast import liquidation as _liquidation  # noqa: F401  (tests read it here)
from slt.rules.margin_fast import remembered_liquidation as _remembered
from slt.rules.margin_fast import table_of as _table_of
from slt.rules.margin_probe import StopProbe, clears_up_to
from slt.rules.rounding import CALC
from slt.rules.symbol import SymbolRules

_ZERO = Decimal(0)


def _check_side(side: int) -> None:
    if side not in (1, -1):
        raise ValueError(f"side must be +1 (long) or -1 (short), got {side}")


def notional(quantity: Decimal, price: Decimal) -> Decimal:
    """Position value |quantity| × price; a magnitude, as the bracket and margin formulas use it."""
    return CALC.multiply(CALC.abs(quantity), price)  # in CALC, without switching context


def initial_margin(notional: Decimal, leverage: int) -> Decimal:
    """Collateral Binance locks for this notional at this leverage: |notional| / leverage."""
    if leverage < 1:
        raise ValueError(f"leverage must be an integer >= 1, got {leverage}")
    # in CALC by its own methods: the same Decimal as under localcontext(CALC), without
    # switching context (the simulated venue asks at every entry)
    return CALC.divide(CALC.abs(notional), leverage)


def entry_cost(notional: Decimal, leverage: int, taker_rate: Decimal) -> Decimal:
    """What opening `notional` at `leverage` with a taker order needs of the available balance:
    its initial margin and its taker fee. The exchange refuses the order with -2019 when this
    is more than is available; the engine sizes entries with the same sum per unit
    (`slt.engine.entries.enter`, which divides the budget by it)."""
    return initial_margin(notional, leverage) + trading_fee(notional, taker_rate)


def maintenance_margin(rules: SymbolRules, notional: Decimal) -> Decimal:
    """|notional| × MMR − cum of the bracket containing the notional; continuous in the notional."""
    bracket = rules.bracket_for(notional)
    return CALC.subtract(CALC.multiply(CALC.abs(notional), bracket.maint_margin_ratio), bracket.cum)


def isolated_liquidation_price(
    rules: SymbolRules,
    *,
    side: int,
    quantity: Decimal,
    entry_price: Decimal,
    wallet_balance: Decimal,
) -> Decimal | None:
    """Mark price at which an isolated one-way position's margin balance falls to maintenance.

    The MMR and cum are those of the bracket containing the notional *at the liquidation price*
    (Q × LP), which may differ from the bracket at entry, so the formula is solved with each
    bracket and the self-consistent answer kept. With Binance's cum values maintenance margin is
    continuous, and as the margin balance moves faster than it there is exactly one such answer.
    Should a table's cum be inconsistent, maintenance margin jumps at an edge and the balance can
    cross it right there; that edge price is then a root too, and the root met first coming from
    entry (the highest for a long, the lowest for a short) is returned. None when there is no
    positive root: a long whose wallet covers the whole notional cannot be liquidated. Fees are
    not included.

    The result is that of solving every bracket and testing every edge in 50-digit arithmetic;
    with a consistent table only the brackets next to the answer are solved (see the module
    notes), which gives the same Decimal.
    """
    _check_side(side)
    if quantity <= _ZERO or entry_price <= _ZERO:
        raise ValueError("quantity and entry_price must be positive")
    return _remembered(_table_of(rules.brackets), side, quantity, entry_price, wallet_balance)


def max_leverage_within_stop(
    rules: SymbolRules,
    *,
    side: int,
    quantity: Decimal,
    entry_price: Decimal,
    stop_price: Decimal,
    buffer_pct: Decimal,
    cap: int,
) -> int:
    """Highest integer leverage whose isolated liquidation lies beyond the stop by a buffer.

    Long: liq <= stop − buffer_pct × entry; short: liq >= stop + buffer_pct × entry, with the
    wallet = notional / leverage. The answer is at most `cap` and the bracket's max leverage for
    the notional. Liquidation moves away from entry as leverage falls, so the set of acceptable
    leverages is 1..L and a bisection finds L. Returns 0 when even 1x is not enough (a short whose
    stop is beyond about twice the entry).

    Every probe of the bisection gets the answer a full liquidation solve would give, most of
    them from a closed-form wallet threshold instead of a solve, and when that threshold answers
    every probe the bisection could make, its answer is read off without probing; the commonest
    such case, "even the cap clears", is first checked in floats (see slt.rules.margin_probe).
    The result is that of the plain bisection.
    """
    _check_side(side)
    if quantity <= _ZERO or entry_price <= _ZERO or stop_price <= _ZERO:
        raise ValueError("quantity, entry_price and stop_price must be positive")
    if buffer_pct < _ZERO:
        raise ValueError(f"buffer_pct must be a fraction >= 0, got {buffer_pct}")
    if cap < 1:
        raise ValueError(f"cap must be >= 1, got {cap}")
    if (side == 1 and stop_price >= entry_price) or (side == -1 and stop_price <= entry_price):
        raise ValueError(
            f"a {'long' if side == 1 else 'short'} stop must be on the losing side of entry: "
            f"stop {stop_price}, entry {entry_price}"
        )
    table = _table_of(rules.brackets)
    # The products in CALC by its own methods, the same Decimals as under localcontext(CALC):
    # when even the cap clears (most entries) the context is never switched.
    mul = CALC.multiply
    limit = CALC.subtract(stop_price, mul(mul(side, buffer_pct), entry_price))
    entry_notional = mul(quantity, entry_price)
    upper = min(cap, rules.max_leverage_for(entry_notional))
    if clears_up_to(table, side, quantity, entry_price, limit, upper):
        return upper
    with localcontext(CALC):
        probe = StopProbe(table, side, quantity, entry_price, entry_notional, limit, upper)
        settled = probe.settled()
        if settled is not None:
            return settled
        clears = probe.clears
        if not clears(1):
            return 0
        low, high = 1, upper  # invariant: clears(low); answer in [low, high]
        while low < high:
            middle = (low + high + 1) // 2
            if clears(middle):
                low = middle
            else:
                high = middle - 1
        return low
