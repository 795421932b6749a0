"""The Engine: `step(state, event) -> (state, commands)`, the only place trading decisions are made.

Backtest, paper and live all drive this same function with the same events; it reads no clock
and does no I/O, so a run is reproducible from its events alone.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from slt.config import FeeConfig, RiskConfig
from slt.domain import (
    Bar,
    BarsClosed,
    Command,
    Event,
    ExitReason,
    Fill,
    FundingApplied,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderPurpose,
    OrderRejected,
    OrderRequest,
    Position,
    Side,
    Signal,
    Timer,
)
from slt.domain.orders import CLIENT_ID_PREFIX
from slt.engine.entries import enter, passes_thresholds
from slt.engine.state import EngineState, PendingEntry, marked_equity
from slt.engine.tx import Tx
from slt.risk.exits import (
    breakeven_stop,
    close_exit_reason,
    protective_prices,
    trailed_stop,
)
from slt.risk.portfolio import rotation_victim, signal_strength
from slt.risk.protections import check_drawdown, entries_allowed, roll_day
from slt.rules import ErrorCode, ExchangeRules, isolated_liquidation_price

replace = msgspec.structs.replace
# read from globals: a member read from its class costs more, and these are read per bar
_LONG = Side.LONG
_TRAILING_STOP = ExitReason.TRAILING_STOP
_STOP_LOSS = ExitReason.STOP_LOSS

_FILL_REASON = {
    OrderPurpose.TAKE_PROFIT: ExitReason.TAKE_PROFIT,
    OrderPurpose.PARTIAL_TAKE_PROFIT: ExitReason.PARTIAL_TAKE_PROFIT,
}


def _purpose_from_id(client_id: str) -> OrderPurpose | None:
    """The purpose our client order ids carry as their suffix (`slt-1a-TP`), None if not ours."""
    if not client_id.startswith(CLIENT_ID_PREFIX):
        return None
    try:
        return OrderPurpose(client_id.rsplit("-", 1)[-1])
    except ValueError:
        return None


def _tracks(state: EngineState, client_id: str) -> bool:
    """Is this order still on the engine's books, as a resting order or an entry in flight?"""
    for o in state.orders:
        if o.client_id == client_id:
            return True
    # any() of a generator, written out: every cancel the venue reports asks, and the loop
    # builds no generator
    for p in state.pending:  # noqa: SIM110
        if p.order.client_id == client_id:
            return True
    return False


class Engine:
    """Pure decision logic, configured once with the exchange rules and the risk settings."""

    def __init__(self, rules: ExchangeRules, risk: RiskConfig, fees: FeeConfig) -> None:
        self.rules = rules
        self.risk = risk
        self.fees = fees

    def initial_state(self, balance: Decimal) -> EngineState:
        return EngineState(balance=balance)

    def tracks(self, state: EngineState, client_id: str) -> bool:
        """Is the order still on the engine's books? When it is not, `step` answers the order's
        `OrderCanceled` with the state unchanged and no commands, so a caller may skip it."""
        return _tracks(state, client_id)

    def step(self, state: EngineState, event: Event) -> tuple[EngineState, list[Command]]:
        # Candle closes and fills, most of the events, are told apart first.
        if isinstance(event, BarsClosed):
            tx = Tx(state)
            if event.time_ms > tx.time_ms:  # max(), written out: the same int
                tx.time_ms = event.time_ms
            self._on_bars(tx, event)
            return tx.freeze(), tx.commands
        if isinstance(event, OrderFilled):
            tx = Tx(state)
            if event.fill.time_ms > tx.time_ms:
                tx.time_ms = event.fill.time_ms
            self._on_fill(tx, event.fill)
            return tx.freeze(), tx.commands
        if isinstance(event, OrderAccepted):
            return state, []
        if isinstance(event, OrderCanceled) and not _tracks(state, event.client_id):
            # The confirmation of a cancel we sent (or of an order that expired after we had
            # dropped it): nothing left to remove, so no working copy is made for it.
            return state, []
        tx = Tx(state)
        if isinstance(event, OrderRejected):
            self._on_reject(tx, event)
        elif isinstance(event, OrderCanceled):
            tx.orders = [o for o in tx.orders if o.client_id != event.client_id]
            tx.pending = [p for p in tx.pending if p.order.client_id != event.client_id]
        elif isinstance(event, FundingApplied):
            self._on_funding(tx, event)
        elif isinstance(event, Timer):
            tx.time_ms = max(tx.time_ms, event.time_ms)
            self._on_timer(tx)
        return tx.freeze(), tx.commands

    def close_all(
        self,
        state: EngineState,
        time_ms: int,
        reason: ExitReason,
        symbols: frozenset[str] | None = None,
    ) -> tuple[EngineState, list[Command]]:
        """Exit every open position (of `symbols`, default all) at market — end of a backtest or
        of a symbol's data, or `--flatten` on shutdown — and cancel entries still in flight. An
        entry stays pending until the venue confirms the cancel: if it filled first, its fill
        still arrives and the position gets its stop."""
        tx = Tx(state)
        tx.time_ms = max(tx.time_ms, time_ms)
        for pos in list(tx.positions):
            if pos.closing_reason is None and (symbols is None or pos.symbol in symbols):
                tx.exit(pos, reason)
        for pending in tx.pending:
            if symbols is None or pending.symbol in symbols:
                tx.cancel(pending.order)
        return tx.freeze(), tx.commands

    # candle closes ---------------------------------------------------------------------------
    def _on_bars(self, tx: Tx, event: BarsClosed) -> None:
        cfg = self.risk
        # Each bar's position, by its index in the book: nothing below adds or drops a position
        # before the entries (exits and stop moves replace it in place), so the index stays valid.
        held: list[tuple[int, Bar]] = []
        positions = tx.positions
        if positions:
            # a dict comprehension written out: no comprehension frame for one to three entries
            index: dict[str, int] = {}
            for k, p in enumerate(positions):
                index[p.symbol] = k
            for bar in event.bars:
                i = index.get(bar.candle.symbol)
                if i is not None:
                    marked = positions[i]
                    c = bar.candle.close
                    best = marked.best_price
                    # max(best, c) / min(best, c), written out: the same float, without a call
                    if (c > best) if marked.side is _LONG else (c < best):
                        best = c
                    positions[i] = replace(marked, mark_price=c, best_price=best)
                    held.append((i, bar))
        # re-marked positions are new objects, so the equity memo would miss: computed directly
        equity = marked_equity(tx.balance, positions) if held else tx.equity()
        protections = check_drawdown(cfg, roll_day(tx.protections, tx.time_ms, equity), equity)
        if protections is not tx.protections:  # the same object would change nothing
            tx.set_protections(protections)

        now_ms = tx.time_ms
        rules_of = self.rules.get
        for i, bar in held:
            open_pos = tx.positions[i]
            if open_pos.closing_reason is not None:
                continue
            reason = close_exit_reason(cfg, open_pos, bar.candle.close, bar.signal, now_ms)
            if reason is not None:
                tx.exit(open_pos, reason)
                continue
            stop = trailed_stop(cfg, rules_of(open_pos.symbol), open_pos)
            if stop is not None:
                tx.move_stop(open_pos, stop, _TRAILING_STOP)

        if not entries_allowed(tx.protections, now_ms):
            return
        # a list comprehension written out: most closes have no signal, and no frame is made
        signals: list[tuple[Signal, float]] = []
        for b in event.bars:
            sig = b.signal
            if sig is not None and passes_thresholds(cfg, sig):
                signals.append((sig, b.candle.close))
        if not signals:
            return
        signals.sort(
            key=lambda s: (-signal_strength(s[0].expected_return, s[0].confidence), s[0].symbol)
        )
        for signal, price in signals:
            pos = tx.position(signal.symbol)
            if pos is not None and pos.closing_reason is None:
                if int(pos.side) == signal.direction:
                    tx.set_position(
                        replace(
                            pos,
                            expected_return=signal.expected_return,
                            confidence=signal.confidence,
                        )
                    )
                continue
            if tx.pending_for(signal.symbol) is not None:
                continue
            if tx.active_count() >= cfg.max_positions:
                victim = rotation_victim(cfg, self.fees, tx.positions, signal)
                if victim is None:
                    continue
                tx.exit(victim, ExitReason.ROTATION)
            enter(tx, cfg, self.fees, self.rules.get(signal.symbol), signal, price)

    def _on_timer(self, tx: Tx) -> None:
        for pos in list(tx.positions):
            if pos.closing_reason is None:
                reason = close_exit_reason(self.risk, pos, pos.mark_price, None, tx.time_ms)
                if reason is not None:
                    tx.exit(pos, reason)

    # fills -----------------------------------------------------------------------------------
    def _on_fill(self, tx: Tx, fill: Fill) -> None:
        cid = fill.client_id
        # next(generator) written as loops: no generator built per fill
        for pending in tx.pending:
            if pending.order.client_id == cid:
                self._on_entry_fill(tx, pending, fill)
                return
        order: OrderRequest | None = None
        for o in tx.orders:
            if o.client_id == cid:
                order = o
                break
        pos = tx.position(fill.symbol)
        if pos is None:
            tx.balance -= fill.fee
            tx.notice("unknown_fill", f"fill {fill.client_id} on {fill.symbol} with no position")
            return
        # A fill can race our cancel (a target filling while we send an exit): the order is no
        # longer tracked, but its id still says what it was, and the position did shrink.
        purpose = order.purpose if order is not None else _purpose_from_id(fill.client_id)
        if fill.liquidation:
            reason = ExitReason.LIQUIDATION
        elif purpose is None or purpose is OrderPurpose.ENTRY or fill.side is pos.side:
            tx.balance -= fill.fee
            tx.notice("unknown_fill", f"fill {fill.client_id} matches no open order")
            return
        elif purpose is OrderPurpose.STOP_LOSS:
            reason = pos.stop_reason
        elif purpose is OrderPurpose.EXIT:
            reason = pos.closing_reason or ExitReason.SIGNAL_REVERSAL
        else:
            reason = _FILL_REASON[purpose]
        # min(fill.quantity, pos.quantity), written out: the same object, without a call
        qty = pos.quantity if pos.quantity < fill.quantity else fill.quantity
        if order is not None and (order.close_position or order.quantity == qty):
            tx.orders = [o for o in tx.orders if o.client_id != order.client_id]
        rest = tx.reduce(self.risk, pos, qty, fill.price, fill.fee, reason)
        if (
            rest is not None
            and reason is ExitReason.PARTIAL_TAKE_PROFIT
            and self.risk.breakeven_after_partial
        ):
            be = breakeven_stop(self.rules.get(rest.symbol), rest)
            if be is not None:
                tx.move_stop(rest, be, ExitReason.TRAILING_STOP)

    def _on_entry_fill(self, tx: Tx, pending: PendingEntry, fill: Fill) -> None:
        rules = self.rules.get(fill.symbol)
        side = pending.order.side
        tx.balance -= fill.fee
        filled = pending.filled + fill.quantity
        if pending.order.quantity is not None and filled < pending.order.quantity:
            tx.pending = [replace(p, filled=filled) if p is pending else p for p in tx.pending]
        else:
            tx.pending = [p for p in tx.pending if p is not pending]
        existing = tx.position(fill.symbol)
        if existing is not None and existing.closing_reason is None and existing.side is side:
            qty = existing.quantity + fill.quantity
            avg = (existing.quantity * existing.entry_price + fill.quantity * fill.price) / qty
            margin = qty * avg / existing.leverage
            liq = isolated_liquidation_price(
                rules, side=int(side), quantity=qty, entry_price=avg, wallet_balance=margin
            )
            tx.set_position(
                replace(
                    existing,
                    quantity=qty,
                    initial_quantity=existing.initial_quantity + fill.quantity,
                    entry_price=avg,
                    margin=margin,
                    liquidation_price=liq,
                    fees=existing.fees + fill.fee,
                )
            )
            return
        prices = protective_prices(self.risk, rules, side, fill.price, fill.quantity)
        margin = fill.quantity * fill.price / pending.leverage
        stop = tx.place_stop(fill.symbol, side, prices.stop)
        tx.place_target(fill.symbol, side, prices.take_profit)
        if prices.partial is not None:
            tx.place_target(fill.symbol, side, prices.partial, prices.partial_quantity)
        price = float(fill.price)
        liquidation = isolated_liquidation_price(
            rules,
            side=int(side),
            quantity=fill.quantity,
            entry_price=fill.price,
            wallet_balance=margin,
        )
        # positional, in Position's field order: keywords cost several times more per field
        tx.set_position(
            Position(
                fill.symbol,  # symbol
                side,
                fill.quantity,  # quantity
                fill.price,  # entry_price
                fill.time_ms,  # entry_time_ms
                pending.leverage,  # leverage
                margin,
                fill.quantity,  # initial_quantity
                prices.stop,  # stop_price
                prices.take_profit,  # take_profit_price
                prices.partial,  # partial_price
                stop.client_id,  # stop_client_id
                _STOP_LOSS,  # stop_reason
                price,  # best_price
                price,  # mark_price
                liquidation,  # liquidation_price
                pending.expected_return,
                pending.confidence,
                pending.source,
                fill.fee,  # fees
            )
        )

    def _on_reject(self, tx: Tx, event: OrderRejected) -> None:
        cid = event.order.client_id
        tx.time_ms = max(tx.time_ms, event.time_ms)
        order = event.order
        msg = f"{order.symbol} {order.purpose.name} rejected ({event.code}): {event.reason}"
        tx.notice("order_rejected", msg)
        if any(p.order.client_id == cid for p in tx.pending):
            tx.pending = [p for p in tx.pending if p.order.client_id != cid]
            return
        tx.orders = [o for o in tx.orders if o.client_id != cid]
        pos = tx.position(event.order.symbol)
        if pos is None:
            return
        if event.code == ErrorCode.REDUCE_ONLY_REJECT:
            # The exchange holds nothing to reduce: the fill that flattened the position is on its
            # way. Answering with another exit or stop would only be refused again, forever.
            return
        if event.order.purpose is OrderPurpose.STOP_LOSS and pos.closing_reason is None:
            # Never leave a position without its stop: if the stop cannot rest, get out now.
            tx.exit(pos, pos.stop_reason)
        elif event.order.purpose is OrderPurpose.EXIT:
            # The exit did not go through: the position stays, so it gets its stop back.
            reopened = replace(pos, closing_reason=None)
            tx.set_position(reopened)
            tx.move_stop(reopened, pos.stop_price, pos.stop_reason)

    def _on_funding(self, tx: Tx, event: FundingApplied) -> None:
        tx.balance += event.amount
        pos = tx.position(event.symbol)
        if pos is not None:
            tx.set_position(replace(pos, funding=pos.funding - event.amount))
