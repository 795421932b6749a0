"""What the local exchange's trading account holds and what it is worth at market time.

`AccountBook` is the account's state (wallet, positions, per-symbol settings, orders, ids, the
event queue) and everything read from it without changing it: prices on the grid, positions,
initial and maintenance margins, cross and available balance, liquidation prices, open orders
(listing them drops closed ones from the index of live orders, which changes no state).
`account.Account` builds on it with everything that changes the state; the split keeps the
margin arithmetic, which follows `slt.rules`, apart from the bookkeeping, which follows the
order flow (see `account` for the whole picture).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from slt.rules import (
    DEFAULT_MAKER_RATE,
    DEFAULT_TAKER_RATE,
    ExchangeRules,
    Rounding,
    SymbolRules,
    initial_margin,
    isolated_liquidation_price,
    maintenance_margin,
)
from slt.rules.rounding import CALC
from slt.venues.local import userevents as ue
from slt.venues.local.errors import api_error
from slt.venues.local.market import MarketReplay
from slt.venues.local.orders import ZERO, AlgoOrder, Order
from slt.venues.local.trades import Trade

DEFAULT_BALANCE = Decimal(10_000)
DEFAULT_FUNDING_RATE = Decimal("0.0001")
DEFAULT_LEVERAGE = 20


@dataclass(slots=True)
class Position:
    """The one-way (BOTH) position of a symbol; `amount` signed, 0 when flat."""

    amount: Decimal = ZERO
    entry: Decimal = ZERO
    isolated_wallet: Decimal = ZERO
    realized: Decimal = ZERO
    """Accumulated realised PnL before fees (`cr` of ACCOUNT_UPDATE)."""
    update_time: int = 0

    @property
    def side(self) -> int:
        return 1 if self.amount > 0 else -1 if self.amount < 0 else 0


@dataclass(slots=True)
class SymbolConfig:
    leverage: int
    margin_type: str
    """"CROSSED" or "ISOLATED", as `POST /fapi/v1/marginType` spells them."""


class AccountBook:
    """The account's state and its read-only views (module docstring)."""

    def __init__(
        self,
        market: MarketReplay,
        rules: ExchangeRules,
        *,
        balance: Decimal = DEFAULT_BALANCE,
        funding_rate: Decimal = DEFAULT_FUNDING_RATE,
        legacy_conditional: bool = False,
        maker_rate: Decimal = DEFAULT_MAKER_RATE,
        taker_rate: Decimal = DEFAULT_TAKER_RATE,
        margin_type: str = "CROSSED",
        leverage: int = DEFAULT_LEVERAGE,
    ) -> None:
        self.market = market
        self.rules = rules
        self.wallet = balance
        self.funding_rate = funding_rate
        self.legacy_conditional = legacy_conditional
        self.maker_rate = maker_rate
        self.taker_rate = taker_rate
        self.default_margin_type = margin_type
        self.default_leverage = leverage
        self.now = market.now_ms()
        self.update_time = 0
        self.positions: dict[str, Position] = {}
        self.configs: dict[str, SymbolConfig] = {}
        self.orders: dict[str, dict[int, Order]] = {}
        self.algos: dict[int, AlgoOrder] = {}
        self.trades: dict[str, list[Trade]] = {}
        """Every execution per symbol, oldest first (GET /fapi/v1/userTrades)."""
        # The orders that may still be open (closed ones are dropped when next listed), so the
        # per-minute replay does not walk every order ever placed.
        self.live: dict[str, dict[int, Order]] = {}
        self.live_algos: dict[int, AlgoOrder] = {}
        self._next_order_id: dict[str, int] = {}
        self._next_algo_id = 1
        self._next_trade_id = 1
        self.events = ue.EventQueue()
        self._ledger = 0
        """Bumped by every change of positions, wallet or margin type (cache key)."""
        self._cross_key: tuple[int, int] = (-1, -1)
        self._cross_cache: dict[str, tuple[Decimal, Decimal]] = {}

    # symbols and prices -------------------------------------------------------------------------
    def symbol_rules(self, symbol: str) -> SymbolRules:
        if symbol not in self.rules or symbol not in self.market.series:
            raise api_error(-1121)
        return self.rules.get(symbol)

    def last_price(self, symbol: str, t: int | None = None) -> Decimal:
        """The last traded price on the tick grid (the path between candle prices is not)."""
        raw = self.market.last_price(symbol, self.now if t is None else t)
        if raw is None:
            raise api_error(-2010, msg=f"{symbol} has no price yet at market time {self.now}.")
        return self.symbol_rules(symbol).round_price(Decimal(repr(raw)), Rounding.NEAREST)

    def mark_price(self, symbol: str, t: int | None = None) -> Decimal:
        raw = self.market.mark_price(symbol, self.now if t is None else t)
        return ZERO if raw is None else Decimal(repr(raw))

    # settings and positions --------------------------------------------------------------------
    def config(self, symbol: str) -> SymbolConfig:
        cfg = self.configs.get(symbol)
        if cfg is None:
            rules = self.symbol_rules(symbol)
            lev = min(self.default_leverage, rules.highest_leverage)
            cfg = self.configs[symbol] = SymbolConfig(lev, self.default_margin_type)
        return cfg

    def max_notional(self, symbol: str, leverage: int | None = None) -> Decimal:
        """The largest position notional allowed at `leverage` (maxNotionalValue)."""
        lev = self.config(symbol).leverage if leverage is None else leverage
        caps = [b.notional_cap for b in self.symbol_rules(symbol).brackets if b.max_leverage >= lev]
        return max(caps, default=ZERO)

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position()
        return pos

    def isolated(self, symbol: str) -> bool:
        return self.config(symbol).margin_type == "ISOLATED"

    def unrealized(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        if pos is None or not pos.amount:
            return ZERO
        with localcontext(CALC):
            return pos.amount * (self.mark_price(symbol) - pos.entry)

    def notional(self, symbol: str) -> Decimal:
        """Signed position notional at the mark."""
        pos = self.positions.get(symbol)
        return ZERO if pos is None else CALC.multiply(pos.amount, self.mark_price(symbol))

    def position_margin(self, symbol: str) -> Decimal:
        """Initial margin of the position at the mark: |notional| / leverage."""
        return initial_margin(self.notional(symbol), self.config(symbol).leverage)

    def maint_margin(self, symbol: str) -> Decimal:
        n = abs(self.notional(symbol))
        return maintenance_margin(self.symbol_rules(symbol), n) if n else ZERO

    def order_margin(self, symbol: str | None = None) -> Decimal:
        """Margin held by open LIMIT orders that would open or grow a position: price × qty /
        leverage (Binance's exact open-order formula is unconfirmed, §11.1)."""
        total = ZERO
        for o in self.open_orders(symbol):
            if o.type == "LIMIT" and not o.reduce_only:
                lev = self.config(o.symbol).leverage
                total += initial_margin(CALC.multiply(o.qty - o.executed, o.price), lev)
        return total

    def held(self) -> list[str]:
        return [s for s, p in self.positions.items() if p.amount]

    def cross_wallet(self) -> Decimal:
        """The wallet less what isolated positions hold as their own collateral."""
        return self.wallet - sum((self.positions[s].isolated_wallet for s in self.held()), ZERO)

    def cross_unrealized(self) -> Decimal:
        return sum((self.unrealized(s) for s in self.held() if not self.isolated(s)), ZERO)

    def cross_position_margin(self) -> Decimal:
        return sum((self.position_margin(s) for s in self.held() if not self.isolated(s)), ZERO)

    def available(self) -> Decimal:
        """What new margin may come from: cross wallet + cross PnL − cross position margin −
        open-order margin."""
        return (
            self.cross_wallet()
            + self.cross_unrealized()
            - self.cross_position_margin()
            - self.order_margin()
        )

    def liquidation_price(self, symbol: str) -> Decimal | None:
        """Mark price at which the position is liquidated (§11.3), from `slt.rules`.

        Isolated: the position's own wallet. Cross (one-way): the same formula with
        WB − TMM1 + UPNL1 in place of the wallet, i.e. the cross wallet less the other cross
        positions' maintenance margin plus their unrealised PnL at their marks now."""
        pos = self.positions.get(symbol)
        if pos is None or not pos.amount:
            return None
        rules = self.symbol_rules(symbol)
        if self.isolated(symbol):
            wallet = pos.isolated_wallet
        else:
            parts = self._cross_parts()
            mm, up = parts.get(symbol, (ZERO, ZERO))
            total_mm, total_up = parts[""]
            wallet = self.cross_wallet() - (total_mm - mm) + (total_up - up)
        return isolated_liquidation_price(
            rules,
            side=pos.side,
            quantity=abs(pos.amount),
            entry_price=pos.entry,
            wallet_balance=wallet,
        )

    def _cross_parts(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(maintenance margin, unrealised PnL) of each cross position, and their totals under
        "": one pass per market time and ledger state, shared by every cross liquidation."""
        key = (self.now, self._ledger)
        if self._cross_key != key:
            parts = {
                s: (self.maint_margin(s), self.unrealized(s))
                for s in self.held()
                if not self.isolated(s)
            }
            parts[""] = (
                sum((mm for mm, _ in parts.values()), ZERO),
                sum((up for _, up in parts.values()), ZERO),
            )
            self._cross_cache, self._cross_key = parts, key
        return self._cross_cache

    # orders ---------------------------------------------------------------------------------------
    def open_orders(self, symbol: str | None = None) -> list[Order]:
        books = [self.live.get(symbol, {})] if symbol else list(self.live.values())
        out: list[Order] = []
        for book in books:
            for oid in [oid for oid, o in book.items() if not o.is_open]:
                del book[oid]
            out.extend(book.values())
        return out

    def open_algos(self, symbol: str | None = None) -> list[AlgoOrder]:
        for aid in [aid for aid, a in self.live_algos.items() if not a.is_open]:
            del self.live_algos[aid]
        return [a for a in self.live_algos.values() if symbol in (None, a.symbol)]
