"""The engine's whole state: one frozen value, replaced (never mutated) by each step."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from operator import is_ as _is

import msgspec

from slt.domain import OrderRequest, Position
from slt.domain.numbers import as_float, remembered_float
from slt.risk.margin import clearly_above, free_margin
from slt.risk.protections import Protections


class PendingEntry(msgspec.Struct, frozen=True, gc=False):
    """An entry order sent and not yet filled, with the plan it was sized for.

    `margin` and `fee` (the initial margin and taker fee at the sizing price) are held back
    from later entries until the fill books the real ones: the exchange checks the next entry
    against a wallet this fill's fee has already reduced."""

    order: OrderRequest
    leverage: int
    margin: Decimal
    expected_return: float
    confidence: float
    source: str
    filled: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)

    @property
    def symbol(self) -> str:
        return self.order.symbol


class EngineState(msgspec.Struct, frozen=True, gc=False):
    """Balance is the wallet balance (realised PnL, fees and funding). Open protective orders
    (stop, target, scale-out) and exits in flight are kept in `orders` by client id order."""

    balance: Decimal
    time_ms: int = 0
    positions: tuple[Position, ...] = ()
    pending: tuple[PendingEntry, ...] = ()
    orders: tuple[OrderRequest, ...] = ()
    seq: int = 0
    recent_returns: tuple[float, ...] = ()
    protections: Protections = Protections()

    def position(self, symbol: str) -> Position | None:
        return find_position(self.positions, symbol)

    def pending_for(self, symbol: str) -> PendingEntry | None:
        return find_pending(self.pending, symbol)

    def order(self, client_id: str) -> OrderRequest | None:
        for o in self.orders:
            if o.client_id == client_id:
                return o
        return None

    def equity(self) -> float:
        return equity_of(self.balance, self.positions)

    def available(self) -> float:
        return float(free_margin_of(self.balance, self.positions, self.pending))

    def active_count(self) -> int:
        return active_count_of(self.positions, self.pending)


# The book arithmetic shared by the frozen state and a step's working copy (engine.tx).


def find_position(positions: Sequence[Position], symbol: str) -> Position | None:
    for p in positions:
        if p.symbol == symbol:
            return p
    return None


def find_pending(pending: Sequence[PendingEntry], symbol: str) -> PendingEntry | None:
    for p in pending:
        if p.symbol == symbol:
            return p
    return None


# The last equity computed, with the balance and positions it was computed from. A candle
# close computes it after marking the positions, and the same objects are asked again (by an
# entry at that close, by the driver recording the curve) unless something changed them.
_LAST_EQUITY: tuple[Decimal | None, tuple[Position, ...], float] = (None, (), 0.0)


def equity_of(balance: Decimal, positions: Sequence[Position]) -> float:
    """Wallet balance plus unrealised PnL at the latest marks (each position's
    `unrealized_pnl(mark_price)`, written out: this runs at least twice per processed candle).

    The answer for the very same balance object and position objects, in the same order, is
    the last one computed: they are immutable, so the sum would be the same float. Identity
    only (no value is compared); the memo holds them, so no id is reused while it does.

    A position replaced by one with the same quantity, entry price, mark and side objects (a
    moved stop, a closing reason set) has the same PnL term, so the answer stands for it too:
    a candle close that moves a stop would otherwise miss when the driver records the curve."""
    global _LAST_EQUITY
    last_balance, last_key, last_value = _LAST_EQUITY
    if last_balance is balance and len(last_key) == len(positions):
        if all(map(_is, last_key, positions)):  # the identity test per position, in C
            return last_value
        if _same_terms(last_key, positions):
            _LAST_EQUITY = (balance, tuple(positions), last_value)
            return last_value
    return marked_equity(balance, positions)


def _same_terms(before: Sequence[Position], now: Sequence[Position]) -> bool:
    """True when every position's PnL term is computed from the very same objects (identity:
    the memo holds the earlier positions, so their fields' ids are not reused)."""
    for p, q in zip(before, now, strict=True):
        if (
            p.quantity is not q.quantity
            or p.entry_price is not q.entry_price
            or p.mark_price is not q.mark_price
            or p.side is not q.side
        ):
            return False
    return True


def marked_equity(balance: Decimal, positions: Sequence[Position]) -> float:
    """`equity_of` computed without asking the memo (a candle close has just re-marked the
    positions, so it would miss), and remembered for the next `equity_of`.

    Conversions are read from `as_float`'s memo directly, falling back to `as_float` for a value
    not seen yet. The PnL terms are added left to right from 0.0 in a loop, the additions
    CPython 3.11's `sum()` of a list of floats makes (no list or comprehension frame built)."""
    global _LAST_EQUITY
    key = tuple(positions)
    got = remembered_float
    pnl = 0.0
    for p in key:
        q, e = p.quantity, p.entry_price
        # `* p.side`: a float times the IntEnum converts it like `int(p.side)`, without the call
        pnl += (got(q) or as_float(q)) * (p.mark_price - (got(e) or as_float(e))) * p.side
    value = (got(balance) or as_float(balance)) + pnl
    _LAST_EQUITY = (balance, key, value)
    return value


def free_margin_of(
    balance: Decimal, positions: Sequence[Position], pending: Sequence[PendingEntry]
) -> Decimal:
    """Balance a new entry may use (`slt.risk.margin`): what open positions hold (losses
    included) and entries in flight reserve (margin and fee) are not available."""
    return free_margin(balance, positions, sum(_reserved(pending), Decimal(0)))


def free_margin_above(
    balance: Decimal, positions: Sequence[Position], pending: Sequence[PendingEntry], floor: float
) -> bool:
    """True when `free_margin_of(balance, positions, pending)` is certainly above `floor`, told
    in floats (`slt.risk.margin.clearly_above`); False when only the exact sum can tell."""
    return clearly_above(balance, positions, _reserved(pending), floor)


def _reserved(pending: Sequence[PendingEntry]) -> list[Decimal]:
    """What each entry in flight holds back until its fill: its margin and taker fee."""
    return [p.margin + p.fee for p in pending]


def active_count_of(positions: Sequence[Position], pending: Sequence[PendingEntry]) -> int:
    """Positions that are staying (not being closed) plus entries in flight."""
    count = len(pending)
    for p in positions:  # sum() over a generator, written out: asked for every signal
        if p.closing_reason is None:
            count += 1
    return count
