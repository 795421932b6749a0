"""Builders for hand-made backtest results: tests state only the figures they check."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from slt.backtest.result import BacktestResult
from slt.data.csv_import import parse_file
from slt.data.sample import sample_files
from slt.domain import CandleSeries
from slt.domain.candle import HOUR_MS
from slt.domain.enums import ExitReason, Side
from slt.domain.position import ExitLeg, TradeRecord
from slt.rules import ExchangeRules, bundled_rules

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


class Build:
    """Factories for `TradeRecord` and `BacktestResult` with neutral defaults."""

    @staticmethod
    def trade(
        *,
        symbol: str = "BTCUSDT",
        side: Side = Side.LONG,
        entry_ms: int = T0,
        exit_ms: int = T0 + HOUR_MS,
        net: str = "10",
        return_pct: float = 0.01,
        reason: ExitReason = ExitReason.TAKE_PROFIT,
        legs: Sequence[ExitReason] | None = None,
        fees: str = "0",
        funding: str = "0",
    ) -> TradeRecord:
        """A closed trade; `legs` lists the reasons of its exit legs (default: one, `reason`)."""
        reasons = list(legs) if legs is not None else [reason]
        net_pnl = Decimal(net)
        exits = tuple(
            ExitLeg(
                time_ms=exit_ms,
                quantity=Decimal("1") / len(reasons),
                price=Decimal("100"),
                reason=r,
                pnl=net_pnl / len(reasons),
                fee=Decimal(0),
            )
            for r in reasons
        )
        return TradeRecord(
            symbol=symbol,
            side=side,
            entry_time_ms=entry_ms,
            exit_time_ms=exit_ms,
            entry_price=Decimal("100.50"),
            exit_price=Decimal("101.25"),
            quantity=Decimal("0.010"),
            leverage=5,
            margin=Decimal("20"),
            gross_pnl=net_pnl + Decimal(fees) + Decimal(funding),
            fees=Decimal(fees),
            funding=Decimal(funding),
            net_pnl=net_pnl,
            return_pct=return_pct,
            exit_reason=reason,
            exits=exits,
            expected_return=0.01,
            confidence=0.6,
            source="test",
        )

    @staticmethod
    def result(
        *,
        times: Sequence[int] | None = None,
        equity: Sequence[float] | None = None,
        trades: Sequence[TradeRecord] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
        initial: str | None = None,
        final: str | None = None,
        in_market_ms: int = 0,
        fees: str = "0",
        funding: str = "0",
        rejected: dict[str, int] | None = None,
        symbols: Sequence[str] = ("BTCUSDT",),
        run_id: str = "test-run",
        config: dict[str, Any] | None = None,
    ) -> BacktestResult:
        """A result whose balances and span default to the first and last equity samples."""
        t = np.asarray(times if times is not None else [T0, T0 + HOUR_MS], dtype=np.int64)
        eq = np.asarray(equity if equity is not None else [1000.0] * len(t), dtype=np.float64)
        return BacktestResult(
            run_id=run_id,
            config=config if config is not None else {"interval": "1h"},
            symbols=tuple(symbols),
            interval="1h",
            start_ms=start_ms if start_ms is not None else int(t[0]) if len(t) else T0,
            end_ms=end_ms if end_ms is not None else int(t[-1]) if len(t) else T0,
            initial_balance=Decimal(initial if initial is not None else _first(eq)),
            final_balance=Decimal(final if final is not None else _first(eq[::-1])),
            trades=tuple(trades),
            equity_time_ms=t,
            equity=eq,
            in_market_ms=in_market_ms,
            fees_paid=Decimal(fees),
            funding_paid=Decimal(funding),
            rejected_orders=dict(rejected or {}),
            candles_processed=len(t),
            elapsed_s=0.5,
        )


def _first(values: np.ndarray[Any, np.dtype[np.float64]]) -> str:
    return repr(float(values[0])) if len(values) else "1000"


def scenario_result() -> BacktestResult:
    """Four UTC days, three trades, one drawdown that recovers; the figures are worked out
    by hand in test_metrics.py.

    Daily closes 1050, 1050 (no sample on day 2), 1000, 1155 from an opening 1000.
    """
    day = 24 * HOUR_MS
    b = Build
    trades = (
        b.trade(
            symbol="BTCUSDT",
            entry_ms=T0 + HOUR_MS,
            exit_ms=T0 + 6 * HOUR_MS,
            net="100",
            return_pct=0.02,
            reason=ExitReason.TAKE_PROFIT,
            legs=[ExitReason.PARTIAL_TAKE_PROFIT, ExitReason.TAKE_PROFIT],
            fees="1.5",
        ),
        b.trade(
            symbol="ETHUSDT",
            side=Side.SHORT,
            entry_ms=T0 + 2 * day,
            exit_ms=T0 + 2 * day + HOUR_MS,
            net="-50",
            return_pct=-0.03,
            reason=ExitReason.STOP_LOSS,
            fees="1",
            funding="0.25",
        ),
        b.trade(
            symbol="BTCUSDT",
            entry_ms=T0 + 3 * day,
            exit_ms=T0 + 3 * day + 2 * HOUR_MS,
            net="105",
            return_pct=0.025,
            reason=ExitReason.TRAILING_STOP,
        ),
    )
    return b.result(
        times=[
            T0,
            T0 + 6 * HOUR_MS,
            T0 + 12 * HOUR_MS,
            T0 + 2 * day + HOUR_MS,
            T0 + 2 * day + 5 * HOUR_MS,
            T0 + 3 * day + 2 * HOUR_MS,
            T0 + 4 * day - 60_000,
        ],
        equity=[1000.0, 1100.0, 1050.0, 945.0, 1000.0, 1155.0, 1155.0],
        trades=trades,
        start_ms=T0,
        end_ms=T0 + 4 * day,
        initial="1000",
        final="1155",
        in_market_ms=8 * HOUR_MS,
        fees="2.5",
        funding="0.25",
        rejected={"min_notional": 2, "filter": 1},
        symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"),
        run_id="scenario-<1>&",
        config={"risk": {"max_positions": 3, "sl_pct": 0.02}, "symbols": ["BTCUSDT", "ETHUSDT"]},
    )


@pytest.fixture(scope="session")
def scenario() -> BacktestResult:
    return scenario_result()


@pytest.fixture(scope="session")
def build() -> type[Build]:
    return Build


@pytest.fixture(scope="session")
def sample() -> dict[str, CandleSeries]:
    """The bundled sample (4 symbols of real 1m candles), keyed by symbol."""
    out: dict[str, CandleSeries] = {}
    for path in sample_files():
        series = parse_file(path).series
        out[series.symbol] = series
    return out


@pytest.fixture(scope="session")
def rules() -> ExchangeRules:
    return bundled_rules()
