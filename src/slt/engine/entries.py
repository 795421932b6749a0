"""From a signal to an entry order: size, leverage, margin and exchange rules, in that order."""

from __future__ import annotations

from decimal import Decimal

from slt.config import FeeConfig, RiskConfig
from slt.domain import OrderPurpose, OrderType, RejectReason, Side, Signal
from slt.domain.numbers import as_decimal, as_float, remembered_float
from slt.engine.state import PendingEntry
from slt.engine.tx import Tx
from slt.risk.exits import stop_factor
from slt.risk.leverage import choose_leverage
from slt.risk.sizing import target_quantity
from slt.risk.stats import trade_stats
from slt.rules import OrderCheck, Rounding, SymbolRules, check_order, trading_fee
from slt.rules.fees import COMMISSION_QUANTUM
from slt.rules.orders_fast import MARKET as _MARKET_NAME
from slt.rules.orders_fast import quick_check

_ZERO = Decimal(0)
_QUANTUM_F = float(COMMISSION_QUANTUM)
_TOLERANCE = 1e-9
_SIDES = {1: Side.LONG, -1: Side.SHORT}  # a dict read: calling the enum costs several times more
# read from globals: a member read from its class costs more, and every entry asks
_ENTRY = OrderPurpose.ENTRY
_MARKET = OrderType.MARKET


def passes_thresholds(cfg: RiskConfig, signal: Signal) -> bool:
    return (
        signal.direction != 0
        and signal.expected_return >= cfg.min_expected_return
        and signal.confidence >= cfg.min_confidence
    )


def enter(
    tx: Tx, cfg: RiskConfig, fees: FeeConfig, rules: SymbolRules, signal: Signal, price: float
) -> bool:
    """Place a market entry for `signal` at about `price`; False (with a notice) when refused."""
    side = _SIDES.get(signal.direction) or Side(signal.direction)
    entry = as_decimal(price)
    equity = tx.equity()
    stats = trade_stats(tx.recent_returns)
    qty_f, max_f = target_quantity(
        cfg,
        equity=equity,
        entry_price=price,
        stop_distance_pct=cfg.stop_loss_pct,
        atr_pct=signal.atr_pct,
        stats=stats,
        confidence=signal.confidence,
    )
    # Unrounded: check_order rounds down to the step and may bump up to min notional within
    # the budget (rounding first would turn a small size into 0 and lose that chance).
    # Above the market lot's maxQty the exchange refuses the order (-4005); a smaller
    # position than the risk budget allows is one a trader accepts, so the size is capped.
    qty = Decimal(repr(qty_f))
    if rules.market_max_qty < qty:  # min(qty, market_max_qty), written out
        qty = rules.market_max_qty
    # The risk budget may allow a bump to min notional; leverage is chosen for the final size.
    # check_order's own fast path first, as check_order takes it once its arguments pass (a
    # positive mark, a budget not below zero); anything else goes through check_order itself
    check = (
        quick_check(rules, int(side), _MARKET_NAME, qty, None, entry, False, False, True)
        if entry > _ZERO and max_f >= 0.0  # max_qty = Decimal(repr(max_f)) >= 0, told in floats
        else None
    )
    if check is None:
        # the budget as a Decimal is needed only here, to bump up to min notional
        check = _market_check(rules, int(side), qty, entry, Decimal(repr(max_f)))
    if not check.ok or check.quantity is None:
        return _refuse(tx, signal, RejectReason.MIN_NOTIONAL, check.code, check.reason)
    qty = check.quantity
    # entry × (1 − side × stop_loss_pct): the factor is the one protective_prices uses, the
    # same Decimal from the same exact operations, remembered per side and configuration
    stop_estimate = entry * stop_factor(cfg, int(side))
    leverage = choose_leverage(
        cfg,
        rules,
        side=int(side),
        quantity=qty,
        entry_price=entry,
        stop_price=stop_estimate,
        stats=stats,
        confidence=signal.confidence,
    )
    if leverage <= 0:
        return _refuse(
            tx, signal, RejectReason.RISK_BUDGET, 0, "no leverage keeps liquidation beyond the stop"
        )
    taker = as_decimal(fees.taker_rate)
    # Margin and taker fee must fit in what the exchange counts as available (-2019) and in
    # the configured share of equity. One commission quantum is kept back: the exchange rounds
    # the fee half up to 8 decimals, so it may be up to half a quantum above notional × rate.
    # The exact free margin is summed only when it may be the smaller of the two (rarely).
    share = cfg.max_margin_fraction * equity
    above = tx.free_margin_above(share)
    if not (above and _clearly_fits(qty, price, leverage, fees.taker_rate, share)):
        cap = Decimal(repr(share))
        budget = cap if above else min(tx.free_margin(), cap)
        budget = max(_ZERO, budget - COMMISSION_QUANTUM)
        per_unit = entry / leverage + entry * taker
        if qty * per_unit > budget:
            qty = rules.round_qty(budget / per_unit, Rounding.DOWN, market=True)
            check = _market_check(rules, int(side), qty, entry)
            if not check.ok or check.quantity is None:
                return _refuse(
                    tx,
                    signal,
                    RejectReason.INSUFFICIENT_MARGIN,
                    -2019,
                    f"margin available for {signal.symbol} ({budget:.2f} USDT) is too small "
                    f"for a valid order ({check.reason})",
                )
            qty = check.quantity
    # positional, in the parameters' and PendingEntry's field order: keywords cost more
    order = tx.new_order(_ENTRY, signal.symbol, side, _MARKET, qty, None, False, False, leverage)
    tx.pending.append(
        PendingEntry(
            order,
            leverage,
            qty * entry / leverage,  # margin
            signal.expected_return,
            signal.confidence,
            signal.source,
            _ZERO,  # filled
            trading_fee(qty * entry, taker),  # fee
        )
    )
    return True


def _clearly_fits(
    qty: Decimal, price: float, leverage: int, taker_rate: float, share: float
) -> bool:
    """True only when `qty × (entry / leverage + entry × taker) <= share − one quantum`, the
    Decimal test `enter` makes against a budget of `share` (entry = as_decimal(price), taker =
    as_decimal(taker_rate)), holds by far more than any rounding: the same sum in floats, with
    a margin of 1e-9 of its magnitude. Each float is within a few units in the last place of its
    Decimal (1e-15 relative), and the Decimal products and quotient are rounded at 28 digits.
    False means "may not": the Decimal test decides (also for a NaN or an infinity)."""
    q = remembered_float(qty) or as_float(qty)
    cost = q * (price / leverage + price * taker_rate)
    scale = abs(q * price) * (1.0 / leverage + abs(taker_rate)) + abs(share)
    return cost < share - _QUANTUM_F - _TOLERANCE * scale


def _market_check(
    rules: SymbolRules,
    side: int,
    qty: Decimal,
    entry: Decimal,
    max_quantity: Decimal | None = None,
) -> OrderCheck:
    """The full check of a MARKET entry of `qty` at about `entry` (repairing where a trader
    would accept it, bumping up to min notional only within `max_quantity`)."""
    return check_order(
        rules,
        side=side,
        order_type="MARKET",
        quantity=qty,
        price=None,
        mark_price=entry,
        max_quantity=max_quantity,
    )


def _refuse(tx: Tx, signal: Signal, reason: RejectReason, code: int, text: str) -> bool:
    tx.notice(f"rejected:{reason.value}", f"{signal.symbol} entry not placed (code {code}): {text}")
    return False
