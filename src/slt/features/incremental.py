"""Incremental path: the twelve features updated one closed candle at a time (live trading).

Each symbol's whole state is one row of float64 numbers (bar counters and indices are stored
as floats, exact below 2**53) laid out by `_Layout`, plus a small growable array for the
liquidity stacks. One compiled kernel updates any number of symbols in a single call, so a
live loop of 300 symbols pays one Python-to-machine-code transition per minute, not 300.
Every step is amortised O(1) per candle: fixed-size rings, bounded block and gap lists, and
stacks popped at most once per push.

The step performs, for bar t, the same operations in the same order as the batch path
(batch.py); the tests check that both agree row by row on real and random data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from slt.domain.candle import F64, I64, Candle, CandleSeries, interval_ms
from slt.features.atr import ATR_STATE, atr_step
from slt.features.basic import basic_state_size, basic_step
from slt.features.batch import check_series, log_table
from slt.features.fvg import fvg_state_size, fvg_step
from slt.features.liquidity import LIQ_STATE, liq_state_init, push_levels, sweep_step, sweep_value
from slt.features.mtf import MTF_SLOTS, mtf_state_init, mtf_step
from slt.features.order_blocks import ob_state_size, ob_step
from slt.features.range import pd_position_value, swing_trend_value
from slt.features.schema import DEFAULT_PARAMS, N_FEATURES, FeatureParams
from slt.features.structure import (
    STRUCT_STATE,
    break_step,
    confirm_step,
    struct_levels,
    struct_state_init,
)
from slt.features.swings import pivot_state_size, pivot_step

# component order in a state row (offsets index)
_CORE, _ATR, _PIV, _STRUCT, _OB, _FVG, _LIQ, _BASIC, _MTF = range(9)
# parameter slots of the `prm` vector
(P_ATR, P_L, P_R, P_FVG_MIN, P_FVG_AGE, P_FVG_CNT, P_OB_AGE, P_OB_CAP, P_DEPTH, P_SWEEP_W,
 P_BREAK_W, P_VOL_W, P_RET_K, P_EMA_F, P_EMA_S, P_CAP, P_VZ_CLIP, P_PD_LO, P_PD_HI,
 P_BASE) = range(20)  # fmt: skip

STALE = 1
"""Kernel status of a candle whose open time is not after the symbol's previous one."""
NEED_ROOM = 2
"""Kernel status: a liquidity stack is full; nothing was changed, grow the stacks and retry."""


class _Layout:
    """Offsets of the components in a state row, the parameter vector and a fresh row."""

    def __init__(self, p: FeatureParams) -> None:
        sizes = [
            2,  # bars seen, last open time
            ATR_STATE,
            pivot_state_size(p.pivot_left, p.pivot_right),
            STRUCT_STATE,
            ob_state_size(p.ob_capacity),
            fvg_state_size(p.fvg_max_count),
            LIQ_STATE,
            basic_state_size(p.vol_window, p.ret_k),
            MTF_SLOTS * len(p.mtf_intervals),
        ]
        self.offsets: I64 = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.width = int(self.offsets[-1])
        self.prm: F64 = np.array(
            [
                p.atr_period, p.pivot_left, p.pivot_right, p.fvg_min_atr, p.fvg_max_age,
                p.fvg_max_count, p.ob_max_age, p.ob_capacity, p.sweep_levels, p.sweep_window,
                p.break_window, p.vol_window, p.ret_k, p.ema_fast, p.ema_slow, p.dist_cap,
                p.vol_z_clip, p.pd_low, p.pd_high, interval_ms(p.base_interval),
            ],
            dtype=np.float64,
        )  # fmt: skip
        self.periods: I64 = np.array(p.mtf_periods_ms, dtype=np.int64)
        self.log_table: F64 = log_table(p.break_window)
        row = np.zeros(self.width)
        o = self.offsets
        row[o[_STRUCT] : o[_STRUCT + 1]] = struct_state_init()
        row[o[_LIQ] : o[_LIQ + 1]] = liq_state_init()
        row[o[_MTF] : o[_MTF + 1]] = mtf_state_init(len(p.mtf_intervals))
        self.fresh_row = row


@njit(cache=True)
def _step(
    st: F64,
    stk: F64,
    ot: int,
    h: float,
    lo: float,
    c: float,
    v: float,
    prm: F64,
    off: I64,
    periods: I64,
    logt: F64,
    out: F64,
) -> int:
    """Feed one closed candle to one symbol's state row; write its 12 features to `out`."""
    t = int(st[0])
    if t > 0 and ot <= st[1]:
        out[:] = np.nan
        return STALE
    s_liq = st[off[_LIQ] : off[_LIQ + 1]]
    if max(s_liq[0], s_liq[1]) >= stk.shape[1]:
        return NEED_ROOM
    st[0] = t + 1
    st[1] = ot
    left = int(prm[P_L])
    right = int(prm[P_R])
    cap = prm[P_CAP]
    s_piv = st[off[_PIV] : off[_PIV + 1]]
    s_struct = st[off[_STRUCT] : off[_STRUCT + 1]]

    atr = atr_step(st[off[_ATR] : off[_ATR + 1]], h, lo, c, int(prm[P_ATR]))
    ph, pl = pivot_step(s_piv, h, lo, left, right)
    _, bull_top, bull_bot, bear_top, bear_bot = break_step(s_struct, t, h, lo, c)
    out[2] = ob_step(
        st[off[_OB] : off[_OB + 1]],
        t,
        c,
        atr,
        bull_top,
        bull_bot,
        bear_top,
        bear_bot,
        int(prm[P_OB_AGE]),
        int(prm[P_OB_CAP]),
        cap,
    )
    sweep_step(s_liq, stk, t, h, lo, c, int(prm[P_DEPTH]))
    out[0], out[1] = fvg_step(
        st[off[_FVG] : off[_FVG + 1]],
        t,
        h,
        lo,
        c,
        atr,
        prm[P_FVG_MIN],
        int(prm[P_FVG_AGE]),
        int(prm[P_FVG_CNT]),
        cap,
    )
    confirm_step(s_struct, s_piv, t, ph, pl, left, right)
    push_levels(s_liq, stk, ph, pl)
    out[3] = sweep_value(s_liq, t, int(prm[P_SWEEP_W]))
    h1, h2, s1, s2, _, last_ev, ev_bar = struct_levels(s_struct)
    window = int(prm[P_BREAK_W])
    if ev_bar == ev_bar:
        age = t - int(ev_bar)
        out[4] = last_ev if age < window else 0.0
        out[5] = logt[min(age, window)]
    else:
        out[4] = 0.0
        out[5] = np.nan
    out[6] = swing_trend_value(h1, h2, s1, s2)
    out[7], out[8], out[10] = basic_step(
        st[off[_BASIC] : off[_BASIC + 1]],
        c,
        v,
        atr,
        int(prm[P_VOL_W]),
        int(prm[P_RET_K]),
        prm[P_VZ_CLIP],
    )
    out[9] = mtf_step(
        st[off[_MTF] : off[_MTF + 1]],
        ot,
        c,
        periods,
        int(prm[P_BASE]),
        int(prm[P_EMA_F]),
        int(prm[P_EMA_S]),
    )
    out[11] = pd_position_value(c, h1, s1, prm[P_PD_LO], prm[P_PD_HI])
    return 0


@njit(cache=True)
def _step_many(
    state: F64,
    stacks: F64,
    sym: I64,
    ot: I64,
    values: F64,
    prm: F64,
    off: I64,
    periods: I64,
    logt: F64,
    out: F64,
    status: I64,
    start: int,
) -> int:
    """Candles start.. in order: `sym[i]` is the state row, `values[i]` = (high, low, close,
    volume). Returns the index of the first candle not consumed (a stack needs room), or the
    number of candles when all were."""
    for i in range(start, sym.size):
        s = sym[i]
        code = _step(
            state[s],
            stacks[s],
            ot[i],
            values[i, 0],
            values[i, 1],
            values[i, 2],
            values[i, 3],
            prm,
            off,
            periods,
            logt,
            out[i],
        )
        if code == NEED_ROOM:
            return i
        status[i] = code
    return sym.size


class _Store:
    """State rows of several symbols plus their liquidity stacks (grown on demand)."""

    def __init__(self, n: int, params: FeatureParams, stack_room: int = 32) -> None:
        self.layout = _Layout(params)
        self.state: F64 = np.tile(self.layout.fresh_row, (n, 1))
        self.stacks: F64 = np.full((n, 2, stack_room), np.nan)

    def add_row(self) -> int:
        self.state = np.vstack([self.state, self.layout.fresh_row[None, :]])
        self.stacks = np.concatenate([self.stacks, np.full((1, *self.stacks.shape[1:]), np.nan)])
        return int(self.state.shape[0]) - 1

    def grow(self) -> None:
        """Double the room of every liquidity stack (rare: deep runs of untaken levels)."""
        cap = self.stacks.shape[2]
        grown = np.full((*self.stacks.shape[:2], 2 * cap), np.nan)
        grown[:, :, :cap] = self.stacks
        self.stacks = grown

    def run(self, sym: I64, ot: I64, values: F64) -> tuple[F64, I64]:
        out = np.empty((sym.size, N_FEATURES))
        status = np.zeros(sym.size, dtype=np.int64)
        lay = self.layout
        done = 0
        while True:
            done = _step_many(
                self.state, self.stacks, sym, ot, values,
                lay.prm, lay.offsets, lay.periods, lay.log_table, out, status, done,
            )  # fmt: skip
            if done == sym.size:
                return out, status
            self.grow()


def _series_inputs(series: CandleSeries) -> tuple[I64, F64]:
    values = np.column_stack([series.high, series.low, series.close, series.volume])
    return np.ascontiguousarray(series.open_time, dtype=np.int64), values.astype(np.float64)


class FeatureState:
    """Incremental features of one symbol: `update(candle)` after every closed candle.

    Row for row equal to `compute_features` over the same candles. The first candle fixes
    the symbol; candles must arrive in strictly increasing open time (one base interval
    each; gaps are allowed and handled as in the batch path).
    """

    def __init__(self, params: FeatureParams = DEFAULT_PARAMS) -> None:
        self.params = params
        self.symbol: str | None = None
        self._store = _Store(1, params)
        self._sym = np.zeros(1, dtype=np.int64)

    @property
    def bars(self) -> int:
        """Candles consumed so far."""
        return int(self._store.state[0, 0])

    def update(self, candle: Candle) -> F64:
        """Consume one closed candle; return its 12 features (a new array, NaN where unknown)."""
        if self.symbol is None:
            self.symbol = candle.symbol
        elif candle.symbol != self.symbol:
            raise ValueError(f"this state follows {self.symbol}, got a {candle.symbol} candle")
        values = np.array([[candle.high, candle.low, candle.close, candle.volume]])
        out, status = self._store.run(
            self._sym, np.array([candle.open_time], dtype=np.int64), values
        )
        if status[0] == STALE:
            raise ValueError(
                f"{candle.symbol} candle {candle.open_time} is not after the previous one "
                f"({int(self._store.state[0, 1])}); candles must arrive in time order"
            )
        row: F64 = out[0]
        return row

    def replay(self, series: CandleSeries) -> F64:
        """Consume a whole series (e.g. warm-up from the store); its (n, 12) feature rows."""
        check_series(series, self.params)
        if self.symbol is None:
            self.symbol = series.symbol
        elif series.symbol != self.symbol:
            raise ValueError(f"this state follows {self.symbol}, got {series.symbol}")
        ot, values = _series_inputs(series)
        out, status = self._store.run(np.zeros(ot.size, dtype=np.int64), ot, values)
        if status.any():
            raise ValueError(f"{series.symbol}: series overlaps candles already consumed")
        return out


class MultiSymbolFeatures:
    """Incremental features of many symbols, updated together once per closed base candle.

    `update(candles)` takes the candles that just closed (any subset of the symbols, in any
    order; several candles of one symbol are applied in the given order) and returns each
    symbol's newest 12 features. A candle whose open time is not after its symbol's
    previous one (a replay after a reconnect, a duplicate) changes nothing, is left out of
    the result and counted in `stale_candles`.
    """

    def __init__(self, symbols: Sequence[str], params: FeatureParams = DEFAULT_PARAMS) -> None:
        self.params = params
        self._index: dict[str, int] = {}
        for s in symbols:
            if s in self._index:
                raise ValueError(f"symbol {s} listed twice")
            self._index[s] = len(self._index)
        self._store = _Store(len(self._index), params)
        self.stale_candles = 0

    @property
    def symbols(self) -> list[str]:
        return list(self._index)

    def add_symbol(self, symbol: str) -> None:
        """Start following `symbol` with a fresh state (no-op when already followed)."""
        if symbol not in self._index:
            self._index[symbol] = self._store.add_row()

    def bars(self, symbol: str) -> int:
        """Candles consumed so far for `symbol`."""
        return int(self._store.state[self._index[symbol], 0])

    def update(self, candles: Sequence[Candle]) -> dict[str, F64]:
        """Consume closed candles; {symbol: its 12 features after its last candle here}."""
        k = len(candles)
        if k == 0:
            return {}
        index = self._index
        try:
            sym = np.array([index[c.symbol] for c in candles], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(f"unknown symbol {exc.args[0]}; add_symbol() it first") from None
        ot = np.array([c.open_time for c in candles], dtype=np.int64)
        values = np.array([(c.high, c.low, c.close, c.volume) for c in candles])
        out, status = self._store.run(sym, ot, values)
        result: dict[str, F64] = {}
        for i, c in enumerate(candles):
            if status[i] == STALE:
                self.stale_candles += 1
            else:
                result[c.symbol] = out[i]
        return result

    def replay(self, series: CandleSeries) -> F64:
        """Consume a whole series of one followed symbol (warm-up); its (n, 12) rows."""
        check_series(series, self.params)
        s = self._index[series.symbol]
        ot, values = _series_inputs(series)
        out, status = self._store.run(np.full(ot.size, s, dtype=np.int64), ot, values)
        self.stale_candles += int(np.count_nonzero(status))
        return out
