"""A float screen in front of the leverage search: most entries can take the whole cap.

`max_leverage_within_stop` bisects over the leverages 1..upper, and `StopProbe` answers a probe
without solving when its wallet N0 / L is clearly above or below `required`, the wallet at which
the liquidation lands exactly on the limit (margin_fast.py). The wallet only shrinks as leverage
grows, so when even N0 / upper is clearly above `required` — and, for a short, no wallet in the
probes' range sits near a bracket floor, where `StopProbe` would solve instead — every probe the
bisection can make answers True and the search ends at `upper`. For a stop a few percent away
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

from slt.rules.margin_fast import Table

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
    """True only when `StopProbe.clears(L)` is True by the wallet comparison for every L in
    1..upper, so that the bisection's answer is `upper`; False means "not shown", not "no"."""
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
        # a short's True answers also need every probe's wallet away from the floor walls
        low, high = wallet - slack, notional + slack
        for wall in f.wall_short:
            if low <= t + wall <= high:
                return False
    return True
