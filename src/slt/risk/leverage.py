"""Dynamic leverage: more when the recent record and the signal agree, never past the bracket,
the configured cap, or the point where liquidation would come before the stop-loss."""

from __future__ import annotations

from decimal import Decimal

from slt.config import RiskConfig
from slt.domain.numbers import as_decimal
from slt.risk.stats import TradeStats
from slt.rules import SymbolRules, max_leverage_within_stop


def desired_leverage(cfg: RiskConfig, stats: TradeStats, confidence: float) -> int:
    """Leverage the risk layer would like: min..max scaled by confidence × win-rate factor.

    The win-rate factor maps 30 % → 0 and 70 % → 1; before `kelly_min_trades` trades it is 0.5.
    """
    if stats.trades < cfg.kelly_min_trades:
        wr_factor = 0.5
    else:
        # min(1.0, max(0.0, x)) written out (the same float, NaN included): asked per entry
        x = (stats.win_rate - 0.3) / 0.4
        x = x if x > 0.0 else 0.0
        wr_factor = x if x < 1.0 else 1.0
    c = confidence if confidence < 1.0 else 1.0
    score = (c if c > 0.0 else 0.0) * wr_factor
    return cfg.min_leverage + int((cfg.max_leverage - cfg.min_leverage) * score)


def choose_leverage(
    cfg: RiskConfig,
    rules: SymbolRules,
    *,
    side: int,
    quantity: Decimal,
    entry_price: Decimal,
    stop_price: Decimal,
    stats: TradeStats,
    confidence: float,
) -> int:
    """The leverage to use, or 0 when no leverage keeps liquidation beyond the stop."""
    safe = max_leverage_within_stop(
        rules,
        side=side,
        quantity=quantity,
        entry_price=entry_price,
        stop_price=stop_price,
        buffer_pct=as_decimal(cfg.liquidation_buffer_pct),
        cap=cfg.max_leverage,
    )
    if safe <= 0:
        return 0
    wanted = desired_leverage(cfg, stats, confidence)
    wanted = safe if safe < wanted else wanted  # max(1, min(wanted, safe)), written out
    return wanted if wanted > 1 else 1
