"""The pure parts of `slt status`: time left before the time exit, ages, unrealised PnL
from a stored mark, and the exact mark and PnL a position snapshot carries."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from slt.cli_status import fmt_age, fmt_left
from slt.domain import ExitReason, Position, Side
from slt.status_report import mark_pnl, time_left_ms
from slt.storage import PositionOp
from slt.storage.trading_ops import position_of

HOUR = 3_600_000


def test_time_left_counts_down_to_the_time_exit_then_overdue() -> None:
    entry = 1_700_000_000_000
    assert time_left_ms(entry, 2 * HOUR, entry + 30 * 60_000) == 90 * 60_000
    assert [fmt_left(ms) for ms in (90 * 60_000, 45_000, 0, -250_000)] == [
        "1h30m",
        "45s",
        "0s",
        "overdue 4m10s",
    ]


def test_ages_read_in_seconds_then_minutes() -> None:
    assert [fmt_age(ms) for ms in (-300, 12_400, 59_999, 192_000)] == [
        "0 s ago",
        "12 s ago",
        "59 s ago",
        "3m12s ago",
    ]


@given(st.integers(-(10**12), 10**12))
def test_overdue_exactly_when_the_time_left_is_negative(ms: int) -> None:
    assert fmt_left(ms).startswith("overdue") == (ms < 0)


def _op(side: str, mark: str | None, upnl: str | None = None) -> PositionOp:
    return PositionOp(
        "r", "BTCUSDT", side, Decimal("0.002"), Decimal("60000.1"), 0, 10, Decimal("12"),
        None, None, None, 0,
        None if mark is None else Decimal(mark), None if upnl is None else Decimal(upnl),
    )  # fmt: skip


def test_unrealised_pnl_is_the_stored_one_else_from_the_mark_by_side() -> None:
    assert mark_pnl(_op("LONG", "60100.1")) == Decimal("0.2000")
    assert mark_pnl(_op("SHORT", "60100.1")) == Decimal("-0.2000")
    assert mark_pnl(_op("LONG", "60100.1", "0.19")) == Decimal("0.19")
    assert mark_pnl(_op("LONG", None)) is None


def test_a_snapshot_of_a_position_carries_its_exact_mark_and_pnl() -> None:
    p = Position(
        symbol="ETHUSDT", side=Side.SHORT, quantity=Decimal("0.3"), entry_price=Decimal("3000.5"),
        entry_time_ms=1, leverage=5, margin=Decimal("180.03"), initial_quantity=Decimal("0.3"),
        stop_price=Decimal("3100"), take_profit_price=None, partial_price=None,
        stop_client_id="", stop_reason=ExitReason.STOP_LOSS, best_price=2990.0,
        mark_price=2990.1, liquidation_price=None, expected_return=0.01, confidence=0.6,
        source="test",
    )  # fmt: skip
    plain = position_of("r", p, 5)
    assert (plain.mark_price, plain.unrealized_pnl, plain.stop_client_id) == (None, None, None)
    marked = position_of("r", p, 5, with_mark=True)
    assert marked.mark_price == Decimal("2990.1")
    assert marked.unrealized_pnl == Decimal("3.12")  # (2990.1 - 3000.5) * 0.3 * -1
    unmarked = position_of("r", msgspec.structs.replace(p, mark_price=0.0), 5, with_mark=True)
    assert unmarked.mark_price is None and unmarked.unrealized_pnl is None
