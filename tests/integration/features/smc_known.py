"""smartmoneyconcepts' outputs moved from the bar where it writes them to the bar where known.

`smartmoneyconcepts` (PyPI, 0.0.27) returns one row per input candle, but most values sit on a row
earlier than the candle whose close first makes them computable:

* `swing_highs_lows` writes a swing on its pivot *p*. The pivot's window is complete at *p + L*;
  the value as returned is final only at *q + L*, *q* the next raw pivot of the other kind,
  because its run filter keeps one extreme per run of same-kind pivots and can drop a pivot until
  that run ends.
* `fvg` writes a gap on the middle candle *i*; it is known at the third, *i + 1*.
  `MitigatedIndex` is a later bar's event written back on row *i*.
* `bos_choch` writes an event on the broken pivot; it is known at max(`BrokenIndex`, the bar
  where the 4th swing of its pattern is known).
* `ob` writes a block on the block candle; it is created at the candle whose close broke the swing
  (not returned; recovered here), but the output keeps only blocks no later candle erased, so a
  row as returned is known at the last bar only.
* `liquidity` writes a group on its first swing; the group takes members until it is swept, so it
  is known at max(the known bar of its last swing `End`, `Swept`).

Each `*_events` function turns one peer output into an event table with integer bar columns
`placed` (where the peer writes it) and `known` (the first bar whose close makes it computable,
`NEVER` when that is after the sample), plus the values. `on_bars` spreads an event column over a
bar array, so the same events can be used as placed or as known.

Three steps of the peer cannot be undone by moving values and are reported, not repaired: `ob`
erases blocks that the future invalidates, the liquidity tolerance is 1 % of the WHOLE sample's
high–low range, and `bos_choch` deletes an earlier unbroken event when a later one breaks first.
The peer also stores BOS/CHoCH, order-block and liquidity levels as float32.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

PEER_VERSION = "0.0.27"
"""The version these placements were read from (smartmoneyconcepts/smc.py)."""

NEVER = np.iinfo(np.int64).max
"""`known` for a value no bar of the sample makes computable."""

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def ohlc_frame(
    open_: F64, high: F64, low: F64, close: F64, volume: F64 | None = None
) -> pd.DataFrame:
    """The peer's input: lower-case open/high/low/close/volume columns on a 0..n-1 index."""
    n = len(close)
    return pd.DataFrame(
        {
            "open": np.asarray(open_, np.float64),
            "high": np.asarray(high, np.float64),
            "low": np.asarray(low, np.float64),
            "close": np.asarray(close, np.float64),
            "volume": np.ones(n) if volume is None else np.asarray(volume, np.float64),
        }
    )


def on_bars(n: int, bars: npt.ArrayLike, values: npt.ArrayLike) -> F64:
    """Length-*n* array with `values` added at `bars`: 0 elsewhere, bars outside 0..n-1 dropped."""
    bars = np.asarray(bars, np.int64)
    values = np.broadcast_to(np.asarray(values, np.float64), bars.shape)
    keep = (bars >= 0) & (bars < n)
    out = np.zeros(n)
    np.add.at(out, bars[keep], values[keep])
    return out


# --- swings -------------------------------------------------------------------------------------


def raw_pivots(ohlc: pd.DataFrame, swing_length: int) -> npt.NDArray[np.int8]:
    """The peer's local pivot rule, before its run filter (+1 high, −1 low, 0 none).

    The first statement of `smc.swing_highs_lows`, which the peer does not return on its own:
    `high[p] == max(high[p-L+1 .. p+L])` (a window of L−1 candles before and L after, both
    non-strict), else the mirrored low rule; a candle that is both is a high.
    """
    window = 2 * swing_length
    high, low = ohlc["high"], ohlc["low"]
    is_high = high == high.shift(-swing_length).rolling(window).max()
    is_low = low == low.shift(-swing_length).rolling(window).min()
    return np.where(is_high, 1, np.where(is_low, -1, 0)).astype(np.int8)


def run_extremes(pivots: npt.NDArray[np.int8], high: F64, low: F64) -> npt.NDArray[np.int8]:
    """The peer's run filter in closed form: of each run of same-kind pivots, the first extreme.

    `smc.swing_highs_lows` repeatedly drops the lower of two consecutive highs (the later one on a
    tie) and the higher of two consecutive lows; since it never empties a run, what is left is the
    highest high (lowest low) of every maximal run, first occurrence on ties.
    """
    idx = np.flatnonzero(pivots)
    out = np.zeros_like(pivots)
    if idx.size == 0:
        return out
    kinds = pivots[idx]
    starts = np.flatnonzero(np.r_[True, kinds[1:] != kinds[:-1]])
    ends = np.r_[starts[1:], idx.size]
    for s, e in zip(starts, ends, strict=True):
        members = idx[s:e]
        pick = (
            members[np.argmax(high[members])] if kinds[s] > 0 else members[np.argmin(low[members])]
        )
        out[pick] = kinds[s]
    return out


def swing_events(ohlc: pd.DataFrame, swings: pd.DataFrame, swing_length: int) -> pd.DataFrame:
    """`smc.swing_highs_lows` output as events.

    Columns: `placed` (pivot bar p), `direction` (+1 high, −1 low), `level`, `confirmed`
    (p + L: the pivot's own window is complete), `known` (q + L, q the next raw pivot of the other
    kind: from then on the run filter can no longer drop it), `artificial` (the peer's filler
    swings on the first and last candle, which its pivot rule can never produce there).
    """
    n = len(ohlc)
    hl = swings["HighLow"].to_numpy(np.float64)
    placed = np.flatnonzero(~np.isnan(hl))
    direction = hl[placed].astype(np.int64)
    raw = raw_pivots(ohlc, swing_length)
    raw_idx = np.flatnonzero(raw)
    known = np.full(placed.size, NEVER, dtype=np.int64)
    for k, (p, d) in enumerate(zip(placed, direction, strict=True)):
        later = raw_idx[np.searchsorted(raw_idx, p, side="right") :]
        other = later[raw[later] == -d]
        if other.size and other[0] + swing_length < n:
            known[k] = other[0] + swing_length
    confirmed = placed + swing_length
    return pd.DataFrame(
        {
            "placed": placed,
            "direction": direction,
            "level": swings["Level"].to_numpy(np.float64)[placed],
            "confirmed": np.where(confirmed < n, confirmed, NEVER),
            "known": known,
            "artificial": (placed == 0) | (placed == n - 1),
        }
    )


# --- fair value gaps ----------------------------------------------------------------------------


def fvg_events(fvg: pd.DataFrame) -> pd.DataFrame:
    """`smc.fvg` output as events: written at the middle candle i, known at the third, i + 1.

    `mitigated` is the first bar from i + 2 on whose wick touches the gap (`low ≤ top` for a bull
    gap), −1 when none: the peer returns 0 for "never" and stores the future bar on row i.
    """
    kind = fvg["FVG"].to_numpy(np.float64)
    placed = np.flatnonzero(~np.isnan(kind))
    mitigated = fvg["MitigatedIndex"].to_numpy(np.float64)[placed].astype(np.int64)
    return pd.DataFrame(
        {
            "placed": placed,
            "known": placed + 1,
            "direction": kind[placed].astype(np.int64),
            "top": fvg["Top"].to_numpy(np.float64)[placed],
            "bottom": fvg["Bottom"].to_numpy(np.float64)[placed],
            "mitigated": np.where(mitigated > 0, mitigated, -1),
        }
    )


# --- BOS / CHoCH --------------------------------------------------------------------------------


def bos_choch_events(bos_choch: pd.DataFrame, swings: pd.DataFrame) -> pd.DataFrame:
    """`smc.bos_choch` output as events.

    The peer decides an event from four consecutive swings (a, b, c, d) and writes it on b, the
    pivot whose level is broken, once d exists; `BrokenIndex` is the first close beyond b's level
    from b + 2 on. Columns: `placed` (b), `kind` (+1 BOS / +2 CHoCH bullish, −1 / −2 bearish, the
    schema our `struct_break` uses), `level` (float32 as the peer stores it), `broken`,
    `pattern_known` (the `known` bar of swing d, see `swing_events`), `known` =
    max(broken, pattern_known).

    `swings` must be `swing_events` of the same swing output the peer was given.
    """
    bos = bos_choch["BOS"].to_numpy(np.float64)
    choch = bos_choch["CHOCH"].to_numpy(np.float64)
    placed = np.flatnonzero(~np.isnan(bos) | ~np.isnan(choch))
    kind = np.where(np.isnan(bos[placed]), 2 * np.nan_to_num(choch[placed]), bos[placed]).astype(
        np.int64
    )
    broken = bos_choch["BrokenIndex"].to_numpy(np.float64)[placed].astype(np.int64)
    swing_bar = swings["placed"].to_numpy(np.int64)
    swing_known = swings["known"].to_numpy(np.int64)
    pos = np.searchsorted(swing_bar, placed)
    if not np.array_equal(swing_bar[pos], placed):
        raise ValueError("bos_choch events must sit on swings of the given swing output")
    d = pos + 2
    pattern_known = np.where(
        d < swing_bar.size, swing_known[np.minimum(d, swing_bar.size - 1)], NEVER
    )
    return pd.DataFrame(
        {
            "placed": placed,
            "kind": kind,
            "level": bos_choch["Level"].to_numpy(np.float64)[placed],
            "broken": broken,
            "pattern_known": pattern_known,
            "known": np.maximum(broken, pattern_known),
        }
    )


# --- order blocks -------------------------------------------------------------------------------


def ob_events(ohlc: pd.DataFrame, swings: pd.DataFrame, ob: pd.DataFrame) -> pd.DataFrame:
    """`smc.ob` output as events: written on the block candle, created at the breaking close.

    The peer creates a bullish block when a close exceeds the high of the last swing high BEFORE
    that candle (bearish mirrored) and writes it on the lowest-low candle in between; it does not
    return the breaking candle, so `created` is recovered as the first close after the block beyond
    that swing and checked against the peer's `OBVolume` (the breaking candle's volume plus the
    two before it): `volume_matches`. `swing_known` is when that swing is known (`swing_events`):
    later than `created` means the peer used a swing it could not have had yet.

    The peer then ERASES every block that is mitigated and later traded through, so a row of its
    output also says "no later candle up to the end of the input erased me": `known` is the last
    bar, and no earlier bar can reproduce the output.
    """
    close = ohlc["close"].to_numpy(np.float64)
    high = ohlc["high"].to_numpy(np.float64)
    low = ohlc["low"].to_numpy(np.float64)
    volume = ohlc["volume"].to_numpy(np.float64)
    kind = ob["OB"].to_numpy(np.float64)
    placed = np.flatnonzero(~np.isnan(kind))
    swing_bar = swings["placed"].to_numpy(np.int64)
    swing_dir = swings["direction"].to_numpy(np.int64)
    swing_known = swings["known"].to_numpy(np.int64)
    n = len(close)
    broken = np.full(placed.size, -1, dtype=np.int64)
    used_known = np.full(placed.size, NEVER, dtype=np.int64)
    for k, b in enumerate(placed):
        d = int(kind[b])
        bars = swing_bar[swing_dir == d]
        knowns = swing_known[swing_dir == d]
        # the swing in force for candles after b is the last one at or before b
        j = np.searchsorted(bars, b, side="right") - 1
        if j < 0:
            continue
        ref = high[bars[j]] if d > 0 else low[bars[j]]
        beyond = close[b + 1 :] > ref if d > 0 else close[b + 1 :] < ref
        if not beyond.any():
            continue
        c = b + 1 + int(np.argmax(beyond))
        if j + 1 < bars.size and bars[j + 1] < c:
            continue  # a newer swing took over before the close: not the breaking candle
        broken[k] = c
        used_known[k] = knowns[j]
    vol3 = np.full(placed.size, np.nan)
    ok = broken >= 2
    c = broken[ok]
    vol3[ok] = (volume[c] + volume[c - 1] + volume[c - 2]).astype(np.float32)
    return pd.DataFrame(
        {
            "placed": placed,
            "direction": kind[placed].astype(np.int64),
            "top": ob["Top"].to_numpy(np.float64)[placed],
            "bottom": ob["Bottom"].to_numpy(np.float64)[placed],
            "created": broken,
            "known": n - 1,
            "swing_known": used_known,
            "volume_matches": vol3 == ob["OBVolume"].to_numpy(np.float64)[placed],
        }
    )


# --- liquidity ----------------------------------------------------------------------------------


def liquidity_events(liquidity: pd.DataFrame, swings: pd.DataFrame) -> pd.DataFrame:
    """`smc.liquidity` output as events: written on a group's first swing, known when it closes.

    A group collects the same-kind swings within ± the tolerance of its first swing's level until
    `swept` (the first later candle whose wick reaches that level ± the tolerance; −1 for none),
    and reports their mean level and last member `End`. The row is final once End is known AND no
    further swing can join, i.e. at max(known of End, swept); never within the sample when it is
    not swept. `end_known` is the first of the two. `causal` is always False: the tolerance is
    1 % of the high–low range of the WHOLE input, so no bar before the last one can reproduce it.
    """
    kind = liquidity["Liquidity"].to_numpy(np.float64)
    placed = np.flatnonzero(~np.isnan(kind))
    end = liquidity["End"].to_numpy(np.float64)[placed].astype(np.int64)
    swept = liquidity["Swept"].to_numpy(np.float64)[placed].astype(np.int64)
    swing_bar = swings["placed"].to_numpy(np.int64)
    swing_known = swings["known"].to_numpy(np.int64)
    end_known = swing_known[np.minimum(np.searchsorted(swing_bar, end), swing_bar.size - 1)]
    return pd.DataFrame(
        {
            "placed": placed,
            "direction": kind[placed].astype(np.int64),
            "level": liquidity["Level"].to_numpy(np.float64)[placed],
            "end": end,
            "end_known": end_known,
            "swept": np.where(swept > 0, swept, -1),
            "known": np.where(swept > 0, np.maximum(end_known, swept), NEVER),
            "causal": False,
        }
    )
