"""A simulated Binance USDⓈ-M venue for backtests and paper trading.

It applies the same `slt.rules` checks as the real exchange and fills conservatively: a market
order decided at a candle's close fills at the NEXT candle's open plus slippage (never at the
close it was decided on); stops and targets fill intrabar at their trigger price (or at the open
when the candle gaps through them); when a stop and a target both lie inside one candle the stop
is assumed to come first. Isolated positions are liquidated when price crosses their liquidation
price, losing their margin. Funding is charged at each settlement time on open positions.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from slt.config import FeeConfig
from slt.domain import (
    CancelOrder,
    Candle,
    Event,
    Fill,
    FundingApplied,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderRequest,
    OrderType,
    PlaceOrder,
    Side,
)
from slt.domain.numbers import as_decimal, as_float, remembered_decimal, remembered_float
from slt.rules import (
    ExchangeRules,
    Rounding,
    SymbolRules,
    UnknownSymbolError,
    check_order,
    funding_payment,
    isolated_liquidation_price,
    next_funding_time,
    quantize_amount,
    trading_fee,
)
from slt.rules.orders_fast import passes_as_sent
from slt.venues.simulated.book import VenuePosition, reaches, trigger_levels_of
from slt.venues.simulated.entry_check import check_entry

_TYPE_NAMES = {t: t.value for t in OrderType}  # a dict read instead of the `value` property
_ZERO = Decimal(0)
# Enum members read from module globals: a member read from its class costs several times as
# much, and these are asked for every order placed and every candle that reaches a level.
_MARKET, _STOP_MARKET = OrderType.MARKET, OrderType.STOP_MARKET
_LONG, _SHORT = Side.LONG, Side.SHORT
_UP, _DOWN = Rounding.UP, Rounding.DOWN


class SimulatedVenue:
    def __init__(
        self, rules: ExchangeRules, fees: FeeConfig, balance: Decimal, *, acknowledge: bool = True
    ) -> None:
        self.rules = rules
        # With `acknowledge` off, an order accepted as it is (resting or queued for the next open)
        # is answered with no event instead of an OrderAccepted. The backtest driver asks for
        # that: the engine counts a sent order as live from the moment it sends it, so the
        # acknowledgement would be one object per order built only to be dropped.
        self.acknowledge = acknowledge
        self.fees = fees
        self.balance = balance
        self.taker = Decimal(repr(fees.taker_rate))
        self.slippage = Decimal(repr(fees.slippage_pct))
        # 1 + side × slippage per side, the same exact Decimals every fill would compute
        self._slip_factor = {s: 1 + s * self.slippage for s in (1, -1)}
        self.funding_rate = Decimal(repr(fees.funding_rate))
        self.funding_hours = fees.funding_interval_hours
        self.funding_ms = fees.funding_interval_hours * 3_600_000
        self.market: dict[str, list[OrderRequest]] = {}
        self.resting: dict[str, list[OrderRequest]] = {}
        self.positions: dict[str, VenuePosition] = {}
        self.rejections: Counter[str] = Counter()
        # (candle open time, price) of the last intrabar trigger fill per symbol: orders sent in
        # reaction to that fill meet the market where the fill happened, not at the candle's open.
        self.intrabar: dict[str, tuple[int, float]] = {}
        # trigger_levels per symbol, dropped by every change of its resting orders or position
        # (`_touch`), so an entry is always current: a candle strictly inside it reaches no level
        # (on_range answers nothing; the backtest driver reads this to skip such calls).
        self.levels: dict[str, tuple[float, float]] = {}
        # entry_cost of each entry waiting in `market`, by client id, until it fills or is
        # cancelled: counted out of the available balance the next entry is checked against
        self.waiting_cost: dict[str, Decimal] = {}

    # order entry ---------------------------------------------------------------------------
    def active_symbols(self) -> set[str]:
        """Symbols whose next candle can change something: a position or an order."""
        held = set(self.positions)
        for symbol, orders in self.market.items():
            if orders:
                held.add(symbol)
        return held

    def submit(self, command: PlaceOrder | CancelOrder, now_ms: int, mark: float) -> list[Event]:
        if isinstance(command, CancelOrder):
            return self._cancel(command.symbol, command.client_id, now_ms)
        order = command.order
        try:
            rules = self.rules.get(order.symbol)
        except UnknownSymbolError as exc:
            return [self._reject(order, now_ms, -1121, str(exc))]
        traded = self.intrabar.get(order.symbol)
        if traded is not None and traded[0] == now_ms:
            mark = traded[1]
        # as_decimal(mark), read from its memo when the mark is a float converted before
        mark_d = (type(mark) is float and remembered_decimal(mark)) or as_decimal(mark)
        side, type_name = int(order.side), _TYPE_NAMES[order.type]
        # check_order's own fast path, asked directly (it passes nearly every order sent here,
        # and only its yes is read); check_order first refuses a mark that is not positive, so
        # such a mark goes there.
        if not (
            mark_d > _ZERO
            and passes_as_sent(
                rules,
                side,
                type_name,
                order.quantity,
                order.stop_price,
                mark_d,
                order.reduce_only,
                order.close_position,
            )
        ):
            check = check_order(
                rules,
                side=side,
                order_type=type_name,
                quantity=order.quantity,
                price=order.stop_price,
                mark_price=mark_d,
                reduce_only=order.reduce_only,
                close_position=order.close_position,
                repair=False,  # the exchange answers what was sent; it never rounds for us
            )
            if not check.ok:
                return [self._reject(order, now_ms, check.code, check.reason)]
        pos = self.positions.get(order.symbol)
        if order.reduce_only or order.close_position:
            if pos is None and traded is not None and traded[0] == now_ms:
                # Sent in reaction to a fill earlier in this candle, on a position a later fill of
                # the same candle closed: on the exchange it rested and expired with the position.
                expired = OrderCanceled(order.symbol, order.client_id, now_ms)
                return [OrderAccepted(order, now_ms), expired] if self.acknowledge else [expired]
            if pos is None or pos.side == int(order.side):
                return [self._reject(order, now_ms, -2022, "ReduceOnly Order is rejected.")]
        if order.type is _MARKET:
            if not order.reduce_only:
                verdict = check_entry(rules, order, pos, mark_d, self._available(), self.taker)
                if isinstance(verdict, tuple):
                    return [self._reject(order, now_ms, *verdict)]
                self.waiting_cost[order.client_id] = verdict
            self.market.setdefault(order.symbol, []).append(order)
        else:
            assert order.stop_price is not None
            trigger_up = (order.type is _STOP_MARKET) == (order.side is _LONG)
            if (mark_d >= order.stop_price) if trigger_up else (mark_d <= order.stop_price):
                return [self._reject(order, now_ms, -2021, "Order would immediately trigger.")]
            self.resting.setdefault(order.symbol, []).append(order)
            self.levels.pop(order.symbol, None)  # self._touch, written out
        return [OrderAccepted(order, now_ms)] if self.acknowledge else []

    def _available(self) -> Decimal:
        """Isolated margin: the wallet less the positions' margins (their PnL stays in them) and
        less what the entries waiting for the next open will take (see entry_check)."""
        held = sum((p.margin for p in self.positions.values()), Decimal(0))
        return self.balance - held - sum(self.waiting_cost.values(), Decimal(0))

    def _reject(self, order: OrderRequest, now_ms: int, code: int, reason: str) -> OrderRejected:
        self.rejections[str(code)] += 1
        return OrderRejected(order, now_ms, code, reason)

    def _cancel(self, symbol: str, client_id: str, now_ms: int) -> list[Event]:
        for book in (self.market, self.resting):
            orders = book.get(symbol, [])
            for i, o in enumerate(orders):
                if o.client_id == client_id:
                    del orders[i]
                    self.waiting_cost.pop(client_id, None)
                    self.levels.pop(symbol, None)  # self._touch, written out
                    return [OrderCanceled(symbol, client_id, now_ms)]
        return []

    # candles ----------------------------------------------------------------------------------
    def on_open(self, candle: Candle) -> list[Event]:
        """Settle funding due at this open, then fill queued market orders at the open."""
        events: list[Event] = []
        sym = candle.symbol
        pos = self.positions.get(sym)
        if pos is not None and candle.open_time >= pos.next_funding_ms:
            mark = as_decimal(candle.open)
            amount = funding_payment(
                side=pos.side, quantity=pos.quantity, mark_price=mark, rate=self.funding_rate
            )
            self.balance += amount
            pos.next_funding_ms += self.funding_ms
            events.append(
                FundingApplied(sym, candle.open_time, float(self.funding_rate), mark, amount)
            )
        queued = self.market.pop(sym, None)
        if queued:
            for order in queued:
                events.extend(self._fill_market(order, candle.open, candle.open_time))
        return events

    def flush(self, symbol: str, price: float, time_ms: int) -> list[Event]:
        """Fill queued market orders at `price` (the last close, when the data ends)."""
        events: list[Event] = []
        for order in self.market.pop(symbol, []):
            events.extend(self._fill_market(order, price, time_ms))
        return events

    def on_range(self, candle: Candle) -> list[Event]:
        """Intrabar triggers: adverse first (stop, liquidation), then targets nearest first."""
        sym = candle.symbol
        pos = self.positions.get(sym)
        if pos is None:
            return []
        low, high = self.levels.get(sym) or self.trigger_levels(sym)
        if candle.low > low and candle.high < high:
            return []  # strictly between every level: nothing below can trigger
        side = pos.side
        hit_stops: list[tuple[float, OrderRequest | None]] = []
        targets: list[tuple[float, OrderRequest]] = []
        for order in self.resting.get(sym, ()):
            level = float(order.stop_price or _ZERO)  # not as_float: see trigger_levels_of
            if order.type is _STOP_MARKET:
                if (candle.low <= level) if side > 0 else (candle.high >= level):
                    hit_stops.append((level, order))
            elif (candle.high >= level) if side > 0 else (candle.low <= level):
                targets.append((level, order))
        liq = pos.liquidation_price
        if liq is not None:
            liq_f = remembered_float(liq) or as_float(liq)
            if reaches(candle.low if side > 0 else candle.high, liq, liq_f, side > 0):
                hit_stops.append((liq_f, None))
        if hit_stops:
            # The adverse path meets the level nearest the open first.
            level, hit = max(hit_stops, key=lambda x: x[0] * side)
            if hit is None:
                return self._liquidate(sym, pos, candle.open_time)
            return self._fill_trigger(hit, level, candle)
        events: list[Event] = []
        for level, order in sorted(targets, key=lambda x: x[0] * side):
            if sym not in self.positions:
                break
            events.extend(self._fill_trigger(order, level, candle))
        return events

    def trigger_levels(self, symbol: str) -> tuple[float, float]:
        """(low, high): a candle with low <= low or high >= high could trigger a resting order or
        a liquidation on `symbol`; one strictly inside cannot (backtests skip such candles)."""
        levels = self.levels.get(symbol)
        if levels is None:
            pos = self.positions.get(symbol)
            levels = self.levels[symbol] = trigger_levels_of(pos, self.resting.get(symbol, ()))
        return levels

    # fills ------------------------------------------------------------------------------------
    def _fill_trigger(self, order: OrderRequest, level: float, candle: Candle) -> list[Event]:
        """A triggered stop/target fills at its level, or at the open if the candle gapped past."""
        sell = order.side is _SHORT
        is_stop = order.type is _STOP_MARKET
        # A sell stop / buy target is passed by a lower open; a sell target / buy stop by a higher.
        gapped = (candle.open < level) if sell == is_stop else (candle.open > level)
        price = candle.open if gapped else level
        self.intrabar[order.symbol] = (candle.open_time, price)
        self._touch(order.symbol)
        self.resting[order.symbol] = [
            o for o in self.resting.get(order.symbol, []) if o.client_id != order.client_id
        ]
        return self._fill_market(order, price, candle.open_time)

    def _fill_market(self, order: OrderRequest, raw_price: float, time_ms: int) -> list[Event]:
        rules = self.rules.get(order.symbol)
        side = int(order.side)
        pos = self.positions.get(order.symbol)
        qty = order.quantity
        self.waiting_cost.pop(order.client_id, None)
        if order.close_position or order.reduce_only:
            if pos is None or pos.side == side:
                return [OrderCanceled(order.symbol, order.client_id, time_ms)]
            # min(qty, pos.quantity), written out: the same object, without a call
            qty = pos.quantity if qty is None or pos.quantity < qty else qty
        assert qty is not None
        self._touch(order.symbol)
        price = self._slipped(rules, raw_price, side)
        fee = trading_fee(qty * price, self.taker)
        events: list[Event] = [
            OrderFilled(Fill(order.client_id, order.symbol, order.side, price, qty, fee, time_ms))
        ]
        self.balance -= fee
        if pos is None:
            self._open(rules, order, qty, price, time_ms)
        elif pos.side == side:
            total = pos.quantity + qty
            pos.entry_price = (pos.quantity * pos.entry_price + qty * price) / total
            pos.quantity = total
            pos.margin = total * pos.entry_price / pos.leverage
            pos.liquidation_price = self._liq(rules, pos)
        else:
            closed = pos.quantity if pos.quantity < qty else qty  # min(), written out
            self.balance += pos.side * closed * (price - pos.entry_price)
            if closed == pos.quantity:
                del self.positions[order.symbol]
                events.extend(self._expire_reduce_only(order.symbol, time_ms))
                if qty > closed:
                    self._open(rules, order, qty - closed, price, time_ms)
            else:
                pos.margin = pos.margin * (pos.quantity - closed) / pos.quantity
                pos.quantity -= closed
        return events

    def _open(
        self, rules: SymbolRules, order: OrderRequest, qty: Decimal, price: Decimal, time_ms: int
    ) -> None:
        lev = order.leverage or 1
        pos = VenuePosition(
            side=int(order.side),
            quantity=qty,
            entry_price=price,
            leverage=lev,
            margin=qty * price / lev,
            liquidation_price=None,
            next_funding_ms=next_funding_time(time_ms, self.funding_hours),
        )
        pos.liquidation_price = self._liq(rules, pos)
        self.positions[order.symbol] = pos
        self._touch(order.symbol)

    @staticmethod
    def _liq(rules: SymbolRules, pos: VenuePosition) -> Decimal | None:
        return isolated_liquidation_price(
            rules,
            side=pos.side,
            quantity=pos.quantity,
            entry_price=pos.entry_price,
            wallet_balance=pos.margin,
        )

    def _slipped(self, rules: SymbolRules, raw: float, side: int) -> Decimal:
        price = (type(raw) is float and remembered_decimal(raw)) or as_decimal(raw)
        if not self.slippage:
            return price
        adverse = _UP if side > 0 else _DOWN
        return rules.round_price(price * self._slip_factor[side], adverse)

    def _liquidate(self, symbol: str, pos: VenuePosition, time_ms: int) -> list[Event]:
        """Isolated liquidation: the position is closed at its liquidation price and the whole
        isolated margin is lost (what PnL leaves of it goes as the clearance fee).

        The fill is on the tick grid (rounded against the position) and the fee has the exchange's
        8 decimals, so the ledger stays exact even when margin = notional / leverage is not."""
        assert pos.liquidation_price is not None
        adverse = Rounding.DOWN if pos.side > 0 else Rounding.UP
        price = self.rules.get(symbol).round_price(pos.liquidation_price, adverse)
        pnl = pos.side * pos.quantity * (price - pos.entry_price)
        fee = quantize_amount(max(Decimal(0), pos.margin + pnl))
        self.balance += pnl - fee
        del self.positions[symbol]
        self._touch(symbol)
        side = Side.SHORT if pos.side > 0 else Side.LONG
        fill = Fill(
            f"autoclose-{time_ms}",
            symbol,
            side,
            price,
            pos.quantity,
            fee,
            time_ms,
            liquidation=True,
        )
        return [OrderFilled(fill), *self._expire_reduce_only(symbol, time_ms)]

    def _expire_reduce_only(self, symbol: str, time_ms: int) -> list[Event]:
        """With the position flat, its reduce-only and close-position orders expire."""
        self._touch(symbol)
        events: list[Event] = []
        for book in (self.resting, self.market):
            keep = []
            for o in book.get(symbol, []):
                if o.reduce_only or o.close_position:
                    events.append(OrderCanceled(symbol, o.client_id, time_ms))
                else:
                    keep.append(o)
            if symbol in book:
                book[symbol] = keep
        return events

    def _touch(self, symbol: str) -> None:
        """The symbol's resting orders or position changed: its trigger levels are stale."""
        self.levels.pop(symbol, None)
