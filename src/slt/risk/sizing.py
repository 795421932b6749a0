"""How much to trade: fixed fractional risk, or fractional Kelly scaled by confidence and
bounded by an ATR volatility target. Pure: plain numbers in, a base-asset quantity out."""

from __future__ import annotations

from slt.config import RiskConfig
from slt.risk.stats import TradeStats


def risk_fraction(cfg: RiskConfig, stats: TradeStats, confidence: float) -> float:
    """Fraction of equity the trade may lose if its stop is hit.

    Kelly mode uses `kelly_fraction` × full Kelly × confidence once `kelly_min_trades` trades are
    known, and fixed risk before that. When Kelly finds no edge it still risks a quarter of the
    fixed risk: a bot that stops trading after a bad streak can never learn it was unlucky.
    """
    if cfg.sizing != "kelly":
        return cfg.risk_per_trade
    if stats.trades < cfg.kelly_min_trades:
        return cfg.risk_per_trade
    kelly = min(stats.kelly, 1.0)
    scaled = cfg.kelly_fraction * kelly * max(0.0, min(1.0, confidence))
    return max(0.25 * cfg.risk_per_trade, min(cfg.max_risk_per_trade, scaled))


def target_quantity(
    cfg: RiskConfig,
    *,
    equity: float,
    entry_price: float,
    stop_distance_pct: float,
    atr_pct: float,
    stats: TradeStats,
    confidence: float,
) -> tuple[float, float]:
    """(quantity, max_quantity) in base units before exchange rounding.

    `max_quantity` is the most the risk budget tolerates (at `max_risk_per_trade`); the rules layer
    may bump a too-small order up to min notional only within it.
    """
    if equity <= 0 or entry_price <= 0:
        return 0.0, 0.0
    if cfg.sizing == "fixed_quantity":
        return cfg.fixed_quantity, cfg.fixed_quantity
    per_unit_loss = entry_price * stop_distance_pct
    risk = risk_fraction(cfg, stats, confidence)
    qty = equity * risk / per_unit_loss
    max_qty = equity * cfg.max_risk_per_trade / per_unit_loss
    typical_move = atr_pct * entry_price  # may underflow to 0 for a subnormal atr_pct
    if cfg.sizing == "kelly" and typical_move > 0:
        vol_cap = equity * cfg.atr_volatility_target / typical_move
        qty = min(qty, vol_cap)
        max_qty = min(max_qty, vol_cap)
    return qty, max_qty
