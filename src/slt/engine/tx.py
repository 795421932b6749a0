"""A step's working copy of the state.

`Engine.step` is pure: it never mutates the state it was given. Inside one step the engine
edits this private copy and freezes it into the next `EngineState` at the end; the primitives
here (enter, exit, move the stop, reduce a position) are the only ways positions and orders
change, so every path keeps them consistent.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from slt.config import RiskConfig
from slt.domain import (
    CancelOrder,
    Command,
    ExitLeg,
    ExitReason,
    Notice,
    OrderPurpose,
    OrderRequest,
    OrderType,
    PlaceOrder,
    Position,
    RecordTrade,
    Side,
    TradeRecord,
    client_order_id,
)
from slt.engine.state import (
    EngineState,
    PendingEntry,
    active_count_of,
    equity_of,
    find_pending,
    find_position,
    free_margin_above,
    free_margin_of,
)
from slt.risk.protections import Protections, record_trade

replace = msgspec.structs.replace

# Enum members and the opposite side, read from module globals and a dict: a member read from
# its class, and the `opposite` property, cost several times as much on every order placed.
_OPPOSITE = {Side.LONG: Side.SHORT, Side.SHORT: Side.LONG}
_STOP_LOSS = OrderPurpose.STOP_LOSS
_TAKE_PROFIT = OrderPurpose.TAKE_PROFIT
_PARTIAL_TAKE_PROFIT = OrderPurpose.PARTIAL_TAKE_PROFIT
_EXIT = OrderPurpose.EXIT
_STOP_MARKET = OrderType.STOP_MARKET
_TAKE_PROFIT_MARKET = OrderType.TAKE_PROFIT_MARKET
_MARKET = OrderType.MARKET
_EIGHT_DECIMALS = Decimal("1e-8")


class Tx:
    # slots: every event of a run builds one and reads these many times
    __slots__ = (
        "balance",
        "commands",
        "orders",
        "pending",
        "positions",
        "protections",
        "recent_returns",
        "seq",
        "time_ms",
    )

    def __init__(self, state: EngineState) -> None:
        self.balance = state.balance
        self.time_ms = state.time_ms
        # [*t] rather than list(t): the same list, without a call by name (three per event)
        self.positions = [*state.positions]
        self.pending = [*state.pending]
        self.orders = [*state.orders]
        self.seq = state.seq
        self.recent_returns = state.recent_returns
        self.protections = state.protections
        self.commands: list[Command] = []

    def freeze(self) -> EngineState:
        # positional, in EngineState's field order: every event of a run builds one
        return EngineState(
            self.balance,
            self.time_ms,
            tuple(self.positions),
            tuple(self.pending),
            tuple(self.orders),
            self.seq,
            self.recent_returns,
            self.protections,
        )

    # lookups ---------------------------------------------------------------------------------
    def position(self, symbol: str) -> Position | None:
        return find_position(self.positions, symbol)

    def pending_for(self, symbol: str) -> PendingEntry | None:
        return find_pending(self.pending, symbol)

    def equity(self) -> float:
        return equity_of(self.balance, self.positions)

    def free_margin(self) -> Decimal:
        return free_margin_of(self.balance, self.positions, self.pending)

    def free_margin_above(self, floor: float) -> bool:
        return free_margin_above(self.balance, self.positions, self.pending, floor)

    def active_count(self) -> int:
        return active_count_of(self.positions, self.pending)

    # primitives ------------------------------------------------------------------------------
    def set_position(self, new: Position) -> None:
        for i, p in enumerate(self.positions):
            if p.symbol == new.symbol:
                self.positions[i] = new
                return
        self.positions.append(new)

    def drop_position(self, symbol: str) -> None:
        self.positions = [p for p in self.positions if p.symbol != symbol]

    def notice(self, kind: str, message: str) -> None:
        self.commands.append(Notice(self.time_ms, kind, message))

    def new_order(
        self,
        purpose: OrderPurpose,
        symbol: str,
        side: Side,
        type: OrderType,
        quantity: Decimal | None = None,
        stop_price: Decimal | None = None,
        reduce_only: bool = False,
        close_position: bool = False,
        leverage: int | None = None,
    ) -> OrderRequest:
        """Place an order with the next client id. The request is built positionally, in
        OrderRequest's field order: every trade places several, and keywords cost more."""
        self.seq += 1
        order = OrderRequest(
            client_order_id(self.seq, purpose),
            symbol,
            side,
            type,
            purpose,
            quantity,
            stop_price,
            reduce_only,
            close_position,
            leverage,
            self.time_ms,
        )
        self.commands.append(PlaceOrder(order))
        return order

    def cancel(self, order: OrderRequest) -> None:
        cid = order.client_id
        self.orders = [o for o in self.orders if o.client_id != cid]
        self.commands.append(CancelOrder(order.symbol, cid))

    def cancel_symbol_orders(self, symbol: str, keep_exits: bool = False) -> None:
        """`cancel` each of the symbol's orders (but exits, with `keep_exits`), in book order.
        One pass over the book rather than one per order: client ids are unique, so the orders
        kept are those that canceling each by its id would leave."""
        kept: list[OrderRequest] = []
        gone: list[OrderRequest] = []
        for o in self.orders:
            if o.symbol == symbol and not (keep_exits and o.purpose is _EXIT):
                gone.append(o)
            else:
                kept.append(o)
        if gone:
            self.orders = kept
            append = self.commands.append
            for o in gone:
                append(CancelOrder(o.symbol, o.client_id))

    def place_stop(self, symbol: str, side: Side, price: Decimal) -> OrderRequest:
        order = self.new_order(
            _STOP_LOSS, symbol, _OPPOSITE[side], _STOP_MARKET, None, price, False, True
        )
        self.orders.append(order)
        return order

    def place_target(
        self, symbol: str, side: Side, price: Decimal, quantity: Decimal | None = None
    ) -> OrderRequest:
        """A take-profit for a `side` position: the whole position when `quantity` is None,
        else a reduce-only scale-out of that quantity."""
        partial = quantity is not None
        order = self.new_order(
            _PARTIAL_TAKE_PROFIT if partial else _TAKE_PROFIT,
            symbol,
            _OPPOSITE[side],
            _TAKE_PROFIT_MARKET,
            quantity,
            price,
            partial,
            not partial,
        )
        self.orders.append(order)
        return order

    def move_stop(self, pos: Position, price: Decimal, reason: ExitReason) -> None:
        cid = pos.stop_client_id
        for old in self.orders:  # next(generator), written out
            if old.client_id == cid:
                self.cancel(old)
                break
        order = self.place_stop(pos.symbol, pos.side, price)
        self.set_position(
            replace(pos, stop_price=price, stop_client_id=order.client_id, stop_reason=reason)
        )

    def exit(self, pos: Position, reason: ExitReason) -> None:
        """Close at market (reduce-only) and cancel the resting protective orders."""
        self.cancel_symbol_orders(pos.symbol)
        order = self.new_order(
            _EXIT, pos.symbol, _OPPOSITE[pos.side], _MARKET, pos.quantity, None, True, False
        )
        self.orders.append(order)
        self.set_position(replace(pos, closing_reason=reason))

    def reduce(
        self,
        cfg: RiskConfig,
        pos: Position,
        quantity: Decimal,
        price: Decimal,
        fee: Decimal,
        reason: ExitReason,
    ) -> Position | None:
        """Book an exit fill; returns the remaining position, or None when the trade closed."""
        pnl = int(pos.side) * quantity * (price - pos.entry_price)
        self.balance += pnl - fee
        leg = ExitLeg(self.time_ms, quantity, price, reason, pnl, fee)
        remaining = pos.quantity - quantity
        if remaining > 0:
            rest = replace(
                pos,
                quantity=remaining,
                margin=pos.margin * remaining / pos.quantity,
                realized_pnl=pos.realized_pnl + pnl,
                fees=pos.fees + fee,
                exits=(*pos.exits, leg),
            )
            self.set_position(rest)
            return rest
        self._close_trade(cfg, pos, (*pos.exits, leg), pnl, fee, reason)
        return None

    def _close_trade(
        self,
        cfg: RiskConfig,
        pos: Position,
        exits: tuple[ExitLeg, ...],
        pnl: Decimal,
        fee: Decimal,
        reason: ExitReason,
    ) -> None:
        """Record the trade `pos` made, closed by its last fill: `exits` are its legs with that
        fill's (passed on their own rather than in a copy of the position)."""
        self.drop_position(pos.symbol)
        self.cancel_symbol_orders(pos.symbol)
        gross = pos.realized_pnl + pnl
        fees = pos.fees + fee
        net = gross - fees - pos.funding
        if len(exits) > 1:  # a volume-weighted average of several legs, kept to 8 decimals
            closed = sum([leg.quantity for leg in exits], Decimal(0))
            value = sum([leg.quantity * leg.price for leg in exits], Decimal(0))
            exit_price = (value / closed).quantize(_EIGHT_DECIMALS)
        else:
            exit_price = exits[0].price
        entry_notional = pos.initial_quantity * pos.entry_price
        # positional, in TradeRecord's field order: keywords cost several times more per field
        trade = TradeRecord(
            pos.symbol,
            pos.side,
            pos.entry_time_ms,
            self.time_ms,  # exit_time_ms
            pos.entry_price,
            exit_price,
            pos.initial_quantity,  # quantity
            pos.leverage,
            entry_notional / pos.leverage,  # margin: initial_quantity × entry_price / leverage
            gross,  # gross_pnl
            fees,
            pos.funding,
            net,  # net_pnl
            float(net / entry_notional),  # return_pct
            reason,  # exit_reason
            exits,
            pos.expected_return,
            pos.confidence,
            pos.source,
        )
        self.commands.append(RecordTrade(trade))
        self.recent_returns = (*self.recent_returns, trade.return_pct)[-cfg.kelly_lookback_trades :]
        before = self.protections
        self.protections = record_trade(cfg, before, float(net), self.time_ms)
        if self.protections.cooldown_until_ms > before.cooldown_until_ms:
            self.notice(
                "cooldown",
                f"{cfg.max_consecutive_losses} losing trades in a row: no new entries until "
                f"{self.protections.cooldown_until_ms}",
            )

    def set_protections(self, p: Protections) -> None:
        if p.halted and not self.protections.halted:
            self.notice("halt", "daily drawdown limit reached: no new entries until next UTC day")
        self.protections = p
