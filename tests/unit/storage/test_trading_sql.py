"""How a batch of write ops is cut into executions: neighbours of one kind share one, in
order, and two upserts of one position never do (PostgreSQL refuses ON CONFLICT DO UPDATE
touching a row twice in one statement)."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from slt.storage import OrderUpdate, PositionOp, SignalOp, WriteOp
from slt.storage.trading_sql import runs_of


def signal(symbol: str, t: int) -> SignalOp:
    return SignalOp("r", symbol, t, 1, 0.01, 0.5, "baseline")


def position(symbol: str, t: int) -> PositionOp:
    one = Decimal(1)
    return PositionOp("r", symbol, "LONG", one, one, 0, 1, one, None, None, None, t)


def update(client_id: str, t: int) -> OrderUpdate:
    return OrderUpdate("r", client_id, "sent", t)


ops_strategy = st.lists(
    st.one_of(
        st.builds(signal, st.sampled_from("AB"), st.integers(0, 9)),
        st.builds(position, st.sampled_from("AB"), st.integers(0, 9)),
        st.builds(update, st.sampled_from("AB"), st.integers(0, 9)),
    ),
    max_size=30,
)


def test_neighbours_of_one_kind_share_an_execution() -> None:
    ops: list[WriteOp] = [signal("A", 1), signal("B", 1), update("A", 2), signal("A", 3)]
    assert [(kind, len(rows)) for kind, rows in runs_of(ops)] == [
        (SignalOp, 2),
        (OrderUpdate, 1),
        (SignalOp, 1),
    ]


def test_a_position_upserted_twice_starts_a_new_execution() -> None:
    ops: list[WriteOp] = [position("A", 1), position("B", 1), position("A", 2), position("B", 3)]
    runs = runs_of(ops)
    assert [[row["updated_ms"] for row in rows] for _, rows in runs] == [[1, 1], [2, 3]]


@given(ops_strategy)
def test_runs_keep_every_op_in_order(ops: list[WriteOp]) -> None:
    runs = runs_of(ops)
    assert sum(len(rows) for _, rows in runs) == len(ops)
    kinds = [kind for kind, rows in runs for _ in rows]
    assert kinds == [type(op) for op in ops]
    for (a, _), (b, _) in pairwise(runs):
        assert a is not b or a is PositionOp  # only a repeated position splits a run of one kind
    for kind, rows in runs:
        if kind is PositionOp:
            keys = [(row["run_id"], row["symbol"]) for row in rows]
            assert len(keys) == len(set(keys))
