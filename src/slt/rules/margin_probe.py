"""The leverage search's probes: `StopProbe`, which answers "does liquidation at this leverage
clear the limit?" as a full solve would, mostly without solving, and a float screen in front of
it, because most entries can take the whole cap.

`max_leverage_within_stop` bisects over the leverages 1..upper, and `StopProbe` answers a probe
without solving when its wallet N0 / L is clearly above or below `required`, the wallet at which
the liquidation lands exactly on the limit. The wallet only shrinks as leverage grows, so when
even N0 / upper is clearly above `required` — and, for a short, none of the wallets the
bisection probes on its way up (`bisection_probes`) sits near a bracket floor, where `StopProbe`
would solve instead — every probe the bisection makes answers True and the search ends at
`upper`. For a stop a few percent away
that is nearly every entry (at 10x the wallet is 10 % of the notional, and a 1.5 % stop plus
maintenance needs about 2 %), and this module decides it with a dozen float operations instead of
Decimal arithmetic in a 50-digit context.

Why floats are enough. The inputs are the exact Decimals converted to floats (relative error
2^-53 each), and `required` = s Q EP − s Q limit + (Q limit × MMR − cum) is a handful of products
and sums, so the float value is within about 1e-14 × size of the exact one, size = N0 + Q limit +
the table's scale (the largest |cum| plus the last floor), which bounds every term. Should the
float Q limit fall on the other side of a bracket floor than the exact one, it is within that
error of the floor, and since maintenance margin is continuous across floors in a trusted table
the other bracket's formula differs by no more than the same error. The screen demands a gap of
1e-9 × size: five orders above what floats can get wrong, and twenty above the Decimal margins
`StopProbe` works with (1e-30 × size to skip a solve, 1e-40 × size around a floor). Anything the
screen cannot vouch for — an untrusted table, numbers outside 1e-200..1e200 (so that every
exponent is moderate in the sense of margin_fast.py), a NaN or an infinity from an overflowing
product — returns False, and the search runs as before.
"""

from __future__ import annotations

import bisect
from decimal import Decimal

from slt.rules.margin_fast import TOLERANCE, Table, liquidation, moderate

_ZERO = Decimal(0)
_MARGIN = Decimal("1e-30")  # how clearly a leverage probe must miss the limit to skip the solve

_SCREEN = 1e-9  # the gap demanded, per unit of size
_TINY, _HUGE = 1e-200, 1e200  # inputs accepted: far inside float range, moderate exponents


class _FloatTable:
    """One trusted table's floors, ratios, cums and floor walls as floats."""

    __slots__ = ("cums", "floors", "ratios", "scale", "table", "wall_short")

    def __init__(self, table: Table) -> None:
        self.table = table  # kept alive, so the id used as the key is never reused meanwhile
        self.floors = tuple(float(f) for f in table.floors)
        self.ratios = tuple(float(m) for m in table.ratios)
        self.cums = tuple(float(c) for c in table.cums)
        self.scale = float(table.scale)
        self.wall_short = tuple(float(w) for w in table.wall_short)


_FLOAT_TABLES: dict[int, _FloatTable] = {}


def _floats_of(table: Table) -> _FloatTable:
    entry = _FLOAT_TABLES.get(id(table))
    if entry is None or entry.table is not table:
        entry = _FloatTable(table)
        if len(_FLOAT_TABLES) >= 1024:
            _FLOAT_TABLES.clear()
        _FLOAT_TABLES[id(table)] = entry
    return entry


def clears_up_to(
    table: Table, side: int, quantity: Decimal, entry: Decimal, limit: Decimal, upper: int
) -> bool:
    """True only when `StopProbe.clears(L)` is True by the wallet comparison for every L the
    bisection probes (`bisection_probes`), so that its answer is `upper`; False means "not
    shown", not "no". For a long that is every L in 1..upper; a short's wallet near a bracket
    floor at a leverage the bisection never asks for does not matter."""
    if not table.trusted:
        return False
    q, e, lim = float(quantity), float(entry), float(limit)
    if not (_TINY < q < _HUGE and _TINY < e < _HUGE and _TINY < lim < _HUGE):
        return False
    f = _floats_of(table)
    notional = q * e
    at_limit = q * lim
    index = bisect.bisect_right(f.floors, at_limit) - 1
    t = side * notional
    required = t - side * at_limit + (at_limit * f.ratios[index] - f.cums[index])
    slack = (notional + at_limit + f.scale) * _SCREEN
    wallet = notional / upper
    if not wallet - required > slack:  # also False for a NaN from an overflow
        return False
    if side == -1:
        # a short's True answers also need the wallet of every probe the bisection makes away
        # from the floor walls (where `StopProbe` would solve instead)
        low, high = wallet - slack, notional + slack
        walls = [t + w for w in f.wall_short if low <= t + w <= high]
        if walls:
            for leverage in bisection_probes(upper):
                at = notional / leverage
                for wall in walls:
                    if abs(wall - at) <= slack:
                        return False
    return True


_PROBES: dict[int, tuple[int, ...]] = {}


def bisection_probes(upper: int) -> tuple[int, ...]:
    """The leverages `max_leverage_within_stop` probes over 1..`upper` when every probe clears:
    1 first, then the bisection's middles, each answered True. When every one of these clears
    its answer is `upper`, whatever the leverages it never probes would say."""
    probes = _PROBES.get(upper)
    if probes is None:
        found = [1]
        low, high = 1, upper
        while low < high:
            low = (low + high + 1) // 2
            found.append(low)
        probes = _PROBES[upper] = tuple(found)
    return probes


class StopProbe:
    """`clears(leverage)` of the bisection: is liquidation at this leverage beyond the limit?

    Exactly the plain test (wallet = Q × EP / L in CALC, solve, compare with the limit), except
    that a wallet clearly above or below `required` — the wallet at which the exact liquidation
    notional is Q × limit, so that more wallet always clears — is answered without solving. That
    is safe because any root the plain algorithm can report lies within 200 EPS of the exact one
    (module notes), far inside `_MARGIN`; and where a missing root (None) would flip the answer,
    the probe must also be clear of every bracket floor, so that a root exists. Runs inside
    localcontext(CALC).
    """

    __slots__ = (
        "entry",
        "entry_notional",
        "eps",
        "hazards",
        "limit",
        "margin",
        "quantity",
        "required",
        "side",
        "table",
        "upper",
    )

    def __init__(
        self,
        table: Table,
        side: int,
        quantity: Decimal,
        entry: Decimal,
        entry_notional: Decimal,
        limit: Decimal,
        upper: int,
    ) -> None:
        self.table, self.side, self.quantity, self.entry = table, side, quantity, entry
        self.entry_notional, self.limit, self.upper = entry_notional, limit, upper
        self.required: Decimal | None = None
        self.margin = self.eps = _ZERO
        self.hazards: list[Decimal] | None = None
        shortcut = (
            table.trusted
            and moderate(quantity)
            and moderate(entry)
            and moderate(limit)
            and moderate(entry_notional)  # so every probe's wallet N0 / L is moderate too
            and limit > _ZERO  # a long's limit at or below zero: only "cannot be liquidated" clears
        )
        if not shortcut:
            return
        t = side * quantity * entry
        limit_notional = quantity * limit
        index = bisect.bisect_right(table.floors, limit_notional) - 1
        maintenance = limit_notional * table.ratios[index] - table.cums[index]
        # G(Q × limit) >= 0  <=>  wallet >= s N0 − s Q limit + MM(Q limit)
        self.required = t - side * limit_notional + maintenance
        self.margin = (abs(t) + abs(limit_notional) + table.scale) * _MARGIN
        self.eps = (abs(entry_notional) + abs(t) + table.scale) * TOLERANCE  # wallet <= N0

    def _near_a_floor(self, wallet: Decimal) -> bool:
        """Is the surplus at some bracket floor within EPS of zero for this wallet?"""
        if self.hazards is None:
            # the wallets at which the surplus is zero at a floor, within the probes' range
            t = self.side * self.quantity * self.entry
            walls = self.table.wall_long if self.side == 1 else self.table.wall_short
            lowest = self.entry_notional / self.upper - self.eps
            highest = self.entry_notional + self.eps
            self.hazards = [t + w for w in walls if lowest <= t + w <= highest]
        return any(abs(wallet - w) <= self.eps for w in self.hazards)

    def settled(self) -> int | None:
        """The bisection's answer when the wallet comparison alone answers every probe it could
        make, else None (the bisection then runs). G is the largest leverage whose wallet clearly
        clears; wallets only shrink as leverage grows (so do their rounded values), so G clear
        and G + 1 clearly short means every probe at or below G clears and every one above does
        not, exactly as `clears` would say. Where a wallet near a bracket floor could change
        such an answer, none is given."""
        if self.required is None:
            return None
        upper, margin, notional = self.upper, self.margin, self.entry_notional
        threshold = self.required + margin
        guess = upper if threshold <= _ZERO else min(upper, int(notional / threshold))
        if guess >= 1 and not notional / guess - self.required > margin:
            return None
        if guess < upper and not notional / (guess + 1) - self.required < -margin:
            return None
        if self.side == -1 or guess < upper:  # some answer would depend on the floors
            self._near_a_floor(notional)
            if self.hazards:
                return None
        return guess

    def clears(self, leverage: int) -> bool:
        wallet = self.entry_notional / leverage
        if self.required is not None:
            gap = wallet - self.required
            # clearly beyond the limit (and, for a short, certainly liquidated somewhere)
            if gap > self.margin and (self.side == 1 or not self._near_a_floor(wallet)):
                return True
            # clearly short of the limit (and, for a long, certainly liquidated somewhere)
            if gap < -self.margin and (self.side == -1 or not self._near_a_floor(wallet)):
                return False
        price = liquidation(self.table, self.side, self.quantity, self.entry, wallet)
        if price is None:
            return self.side == 1  # a long that cannot be liquidated is safe; a short never is
        return price <= self.limit if self.side == 1 else price >= self.limit
