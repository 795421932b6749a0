"""Skipped steps' equity filled after the loop equals the step-by-step numpy fill, bit for bit."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.backtest.quiet import QuietSteps
from slt.domain import ExitReason, Position, Side
from slt.engine.state import EngineState

SYMBOLS = ["AUSDT", "BUSDT", "CUSDT"]
N = 40


def _position(symbol: str, side: Side, qty: str, entry: str) -> Position:
    return Position(
        symbol=symbol,
        side=side,
        quantity=Decimal(qty),
        entry_price=Decimal(entry),
        entry_time_ms=0,
        leverage=5,
        margin=Decimal(1),
        initial_quantity=Decimal(qty),
        stop_price=Decimal(1),
        take_profit_price=None,
        partial_price=None,
        stop_client_id="slt-1-SL",
        stop_reason=ExitReason.STOP_LOSS,
        best_price=1.0,
        mark_price=1.0,
        liquidation_price=None,
        expected_return=0.0,
        confidence=0.0,
        source="test",
    )


positions = st.lists(
    st.tuples(
        st.sampled_from(SYMBOLS),
        st.sampled_from([Side.LONG, Side.SHORT]),
        st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3),
        st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(90000), places=4),
    ),
    max_size=3,
    unique_by=lambda p: p[0],
)
runs = st.lists(
    st.tuples(st.integers(0, N - 1), st.integers(1, 8), positions, st.integers(0, 10**9)),
    max_size=6,
)


@settings(deadline=None)  # the first call loads the compiled kernel
@given(runs=runs, seed=st.integers(0, 2**32 - 1))
def test_deferred_fill_equals_the_step_by_step_fill(
    runs: list[tuple[int, int, list[tuple[str, Side, Decimal, Decimal]], int]], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    grid = {s: rng.uniform(0.01, 100_000.0, N) for s in SYMBOLS}
    quiet = QuietSteps(SYMBOLS)
    want_eq, want_in = np.full(N, -1.0), np.zeros(N, dtype=bool)
    taken = np.zeros(N, dtype=bool)
    for start, length, held, cents in runs:
        stop = min(N, start + length)
        if taken[start:stop].any():
            continue  # runs never overlap in a backtest
        taken[start:stop] = True
        state = EngineState(
            balance=Decimal(cents) / 100,
            positions=tuple(_position(s, side, str(q), str(e)) for s, side, q, e in held),
        )
        quiet.record(start, stop, state)
        acc = np.zeros(stop - start)
        for pos in state.positions:
            closes = grid[pos.symbol][start:stop]
            acc = acc + float(pos.quantity) * (closes - float(pos.entry_price)) * int(pos.side)
        want_eq[start:stop] = float(state.balance) + acc
        want_in[start:stop] = bool(state.positions)
    got_eq, got_in = np.full(N, -1.0), np.zeros(N, dtype=bool)
    quiet.fill(grid, got_eq, got_in)
    assert got_eq.tobytes() == want_eq.tobytes()
    assert (got_in == want_in).all()
