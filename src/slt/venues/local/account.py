"""The trading account of the local exchange: wallet, positions, orders, and their ledger.

Pure and synchronous: no I/O, no clock of its own. Market time comes in through `advance`,
which the request handlers call with the replay clock's time before reading or changing
anything, so every answer reflects the fills, triggers, liquidations and funding the replay
has reached. One-way position mode (one BOTH position per symbol); per-symbol leverage
(default 20, or the symbol's maximum if lower) and margin type (CROSSED by default, as on
Binance; ISOLATED on request). The wallet is USDT.

Money is `Decimal` throughout: fees, funding and realised PnL are quantized to Binance's 8
decimals before they touch the wallet, so `wallet − initial == Σ realised − Σ fees + Σ funding`
holds exactly. Positions, margin, fees, funding and liquidation prices come from `slt.rules`,
so the backtest venue and the local exchange agree.

What the account holds and what it is worth at market time (positions, margins, available
balance, liquidation prices, open orders) is read through `account_book.AccountBook`; this
module holds what changes it: settings, the ledger of fills and funding, order entry and the
passage of market time. Order entry and fills are in `matching.py`, what market time brings
(triggers, resting fills, liquidation, funding) in `walk.py`, parameter parsing in
`order_params.py`, JSON shapes in `formats.py` and user-data events in `userevents.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Any

import slt.venues.local.matching as matching
from slt.rules import quantize_amount, trading_fee
from slt.rules.rounding import CALC
from slt.venues.local import userevents as ue
from slt.venues.local import walk
from slt.venues.local.account_book import AccountBook, SymbolConfig
from slt.venues.local.errors import api_error
from slt.venues.local.order_params import parse_algo, parse_order
from slt.venues.local.orders import ZERO, AlgoOrder, Order
from slt.venues.local.trades import Trade

ENTRY_QUANTUM = Decimal("0.00000001")


class Account(AccountBook):
    """See the module docstring. Built by `routes_trading.build_account`."""

    # settings ------------------------------------------------------------------------------------
    def set_leverage(self, symbol: str, leverage: int) -> SymbolConfig:
        rules = self.symbol_rules(symbol)
        if not 1 <= leverage <= rules.highest_leverage:
            raise api_error(-4028, leverage)
        cfg = self.config(symbol)
        pos = self.position(symbol)
        if pos.amount:
            if cfg.margin_type == "ISOLATED" and leverage < cfg.leverage:
                raise api_error(
                    -4161,
                    msg="Leverage reduction is not supported in Isolated Margin Mode with open "
                    "positions.",
                )
            if abs(pos.amount) * self.mark_price(symbol) > self.max_notional(symbol, leverage):
                raise api_error(-2027)
        cfg.leverage = leverage
        self.emit(ue.leverage_update(symbol, leverage), self.now)
        return cfg

    def set_margin_type(self, symbol: str, margin_type: str) -> None:
        if margin_type not in ("ISOLATED", "CROSSED"):
            raise api_error(-1130, "marginType")
        cfg = self.config(symbol)
        if cfg.margin_type == margin_type:
            raise api_error(-4046)
        if self.open_orders(symbol) or self.open_algos(symbol):
            raise api_error(-4047)
        if self.position(symbol).amount:
            raise api_error(-4048)
        cfg.margin_type = margin_type
        self._ledger += 1

    # the ledger ----------------------------------------------------------------------------------
    def apply_fill(
        self, symbol: str, side: int, qty: Decimal, price: Decimal, maker: bool, t: int
    ) -> tuple[Decimal, Decimal]:
        """Book one fill: fee, realised PnL, the new position. Returns (realised, fee)."""
        fee = trading_fee(CALC.multiply(qty, price), self.maker_rate if maker else self.taker_rate)
        pos = self.position(symbol)
        lev = self.config(symbol).leverage
        iso = self.isolated(symbol)
        realized = ZERO
        with localcontext(CALC):
            if pos.amount == 0 or pos.side == side:
                size = abs(pos.amount)
                pos.entry = ((size * pos.entry + qty * price) / (size + qty)).quantize(
                    ENTRY_QUANTUM
                )
                pos.amount += side * qty
                if iso:
                    pos.isolated_wallet += quantize_amount(qty * price / lev)
            else:
                size = abs(pos.amount)
                closed = min(qty, size)
                realized = quantize_amount(pos.side * closed * (price - pos.entry))
                if iso:
                    pos.isolated_wallet = quantize_amount(
                        pos.isolated_wallet * (size - closed) / size
                    )
                pos.amount += side * closed
                pos.realized += realized
                rest = qty - closed
                if pos.amount == 0:
                    pos.entry = ZERO
                    pos.isolated_wallet = ZERO
                    if rest:
                        pos.amount = side * rest
                        pos.entry = price
                        if iso:
                            pos.isolated_wallet = quantize_amount(rest * price / lev)
        self.wallet += realized - fee
        pos.update_time = t
        self.update_time = t
        self._ledger += 1
        return realized, fee

    def close_out(self, symbol: str, price: Decimal, fee: Decimal, t: int) -> Decimal:
        """Close the whole position at `price` with a given fee (liquidation); returns the
        realised PnL."""
        pos = self.position(symbol)
        with localcontext(CALC):
            realized = quantize_amount(pos.amount * (price - pos.entry))
        self.wallet += realized - fee
        pos.realized += realized
        pos.amount = ZERO
        pos.entry = ZERO
        pos.isolated_wallet = ZERO
        pos.update_time = self.update_time = t
        self._ledger += 1
        return realized

    def credit_funding(self, symbol: str, amount: Decimal, t: int) -> None:
        self.wallet += amount
        pos = self.position(symbol)
        if self.isolated(symbol):
            pos.isolated_wallet += amount
        self.update_time = t
        self._ledger += 1

    # ids and events -------------------------------------------------------------------------------
    def new_order_id(self, symbol: str) -> int:
        n = self._next_order_id.get(symbol, 1)
        self._next_order_id[symbol] = n + 1
        return n

    def new_algo_id(self) -> int:
        n = self._next_algo_id
        self._next_algo_id += 1
        return n

    def new_trade_id(self) -> int:
        n = self._next_trade_id
        self._next_trade_id += 1
        return n

    def record_trade(
        self,
        o: Order,
        qty: Decimal,
        price: Decimal,
        *,
        fee: Decimal,
        realized: Decimal,
        maker: bool,
        t: int,
    ) -> int:
        """Keep one execution of `o` for GET /fapi/v1/userTrades; returns its new trade id,
        the `t` its ORDER_TRADE_UPDATE must carry (see `trades`)."""
        trade = Trade(
            trade_id=self.new_trade_id(),
            symbol=o.symbol,
            order_id=o.order_id,
            side=o.side,
            price=price,
            qty=qty,
            fee=fee,
            realized=realized,
            maker=maker,
            time=t,
        )
        self.trades.setdefault(o.symbol, []).append(trade)
        return trade.trade_id

    def emit(self, body: Mapping[str, Any], t: int) -> None:
        self.events.emit(body, t)

    def drain_events(self) -> list[dict[str, Any]]:
        """The user-data events queued since the last call, oldest first (for the streams).

        Replays the market up to the clock first, so a stream pump that only drains still
        delivers the fills, triggers and funding that market time has reached."""
        self.advance(self.market.now_ms())
        return self.events.drain()

    # orders ---------------------------------------------------------------------------------------
    def place_order(self, params: Mapping[str, str]) -> Order:
        """`POST /fapi/v1/order`: validate, then match at the current market time."""
        symbol = params.get("symbol") or ""
        if not symbol:
            raise api_error(-1102, "symbol")
        rules = self.symbol_rules(symbol)
        order = parse_order(
            params,
            rules,
            self.last_price(symbol),
            legacy_conditional=self.legacy_conditional,
            now=self.now,
        )
        return matching.submit(self, order)

    def place_algo(self, params: Mapping[str, str]) -> AlgoOrder:
        """`POST /fapi/v1/algoOrder`: validate and park until the trigger is reached."""
        symbol = params.get("symbol") or ""
        if not symbol:
            raise api_error(-1102, "symbol")
        rules = self.symbol_rules(symbol)
        algo = parse_algo(params, rules, self.last_price(symbol))
        return matching.submit_algo(self, algo)

    def cancel_order(self, order: Order) -> Order:
        if not order.is_open:
            raise api_error(-2011)
        matching.close_order(self, order, "CANCELED", self.now)
        return order

    def cancel_algo(self, algo: AlgoOrder) -> AlgoOrder:
        if not algo.is_open:
            raise api_error(-2011)
        matching.finish_algo(self, algo, "CANCELED", self.now)
        return algo

    # time -----------------------------------------------------------------------------------------
    def advance(self, now_ms: int) -> None:
        """Replay the market up to `now_ms`: resting fills, triggers, liquidations, funding."""
        walk.advance(self, now_ms)
