"""The Brain against the local exchange on loopback: a signal becomes an entry, its fill comes
back on the user-data stream and the stop and target go out; a Brain that dies and starts
again finds the position and its orders through reconciliation and sends nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from slt.config import Settings, load_settings
from slt.data.sample import SAMPLE_FIRST_OPEN_MS
from slt.domain import Candle, CandleSeries, Signal
from slt.ipc import RingBuffer
from slt.ipc.records import CANDLE_RECORD, candle_bytes
from slt.live import snapshot
from slt.runtime.brain_process import BrainService, state_path
from slt.runtime.heartbeat import HeartbeatBoard, Phase
from slt.runtime.spec import RunSpec, VenueSpec
from slt.strategy.base import SignalColumns
from slt.venues.binance.urls import local
from slt.venues.local.assemble import build_local_exchange, start_local_exchange
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET, LocalExchange

START = SAMPLE_FIRST_OPEN_MS + 86_400_000
ORDER_PATHS = ("/fapi/v1/order", "/fapi/v1/algoOrder")


class LongOnce:
    """Signals long on the first candle of BTCUSDT it sees, never again."""

    name = "test-long-once"

    def __init__(self) -> None:
        self.fired = False

    def batch(self, series: CandleSeries) -> SignalColumns:
        raise NotImplementedError

    def incremental(self, symbol: str) -> LongOnce._State:
        return LongOnce._State(self, symbol)

    class _State:
        def __init__(self, owner: LongOnce, symbol: str) -> None:
            self.owner, self.symbol = owner, symbol

        def update(self, candle: Candle) -> Signal | None:
            if self.owner.fired or self.symbol != "BTCUSDT":
                return None
            self.owner.fired = True
            return Signal(self.symbol, candle.close_time + 1, 1, 0.01, 1.0, 0.004, "test")


@pytest.fixture
async def exchange(btc: CandleSeries) -> AsyncIterator[tuple[LocalExchange, int]]:
    ex = build_local_exchange({"BTCUSDT": btc}, speed=0, start_ms=START)
    running = await start_local_exchange(ex)
    try:
        yield ex, running.port
    finally:
        await asyncio.wait_for(running.close(), 10)


@pytest.fixture
def shared() -> Iterator[tuple[RingBuffer, HeartbeatBoard]]:
    ring = RingBuffer.create(None, 1024, CANDLE_RECORD)
    board = HeartbeatBoard.create()
    try:
        yield ring, board
    finally:
        ring.close()
        board.close()


def _spec(tmp_path: Path, port: int, ring: RingBuffer, board: HeartbeatBoard) -> RunSpec:
    settings: Settings = load_settings(data_dir=tmp_path, live={"warmup_bars": 0})
    venue = VenueSpec("local", local(port), DEFAULT_API_KEY, DEFAULT_API_SECRET, speed=1.0)
    return RunSpec(
        settings, venue, ("BTCUSDT",), "1m", ring.name, ring.capacity, board.name, run_id="t"
    )


def _orders_sent(ex: LocalExchange) -> int:
    return sum(len(ex.limits.requests(p)) for p in ORDER_PATHS)


async def _until(pred: object, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while not pred():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_signal_to_protected_position_and_a_restart_sends_nothing_twice(
    tmp_path: Path,
    exchange: tuple[LocalExchange, int],
    shared: tuple[RingBuffer, HeartbeatBoard],
    btc: CandleSeries,
) -> None:
    ex, port = exchange
    ring, board = shared
    spec = _spec(tmp_path, port, ring, board)
    brain = BrainService(spec, strategy=LongOnce())
    task = asyncio.create_task(brain.run())
    await _until(lambda: brain.trader is not None and board.read("brain").beats > 0)

    i = int((START - btc.open_time[0]) // 60_000) - 1
    assert ring.write(candle_bytes(btc.candle(i)))
    # entry, then its stop, target and scale-out: four orders, all resting or filled
    await _until(lambda: _orders_sent(ex) >= 4)
    await _until(lambda: brain.trader is not None and len(brain.trader.state.positions) == 1)
    trader = brain.trader
    assert trader is not None
    pos = trader.state.positions[0]
    assert pos.symbol == "BTCUSDT" and pos.stop_client_id
    sent = _orders_sent(ex)

    brain.stop.set()
    assert await asyncio.wait_for(task, 15) == 0
    assert board.read("brain").phase is Phase.STOPPED
    saved = snapshot.load(state_path(spec))
    assert saved is not None and len(saved.state.positions) == 1

    # A new Brain on the same state and account: reconciliation agrees, no order goes out.
    again = BrainService(spec, strategy=LongOnce())
    task = asyncio.create_task(again.run())
    await _until(lambda: again.trader is not None and board.read("brain").beats > 0)
    assert again.trader is not None
    assert [p.symbol for p in again.trader.state.positions] == ["BTCUSDT"]
    assert again.trader.state.positions[0].entry_time_ms == pos.entry_time_ms
    assert _orders_sent(ex) == sent
    again.stop.set()
    assert await asyncio.wait_for(task, 15) == 0


async def test_a_lost_state_file_is_rebuilt_from_the_exchange(
    tmp_path: Path,
    exchange: tuple[LocalExchange, int],
    shared: tuple[RingBuffer, HeartbeatBoard],
    btc: CandleSeries,
) -> None:
    ex, port = exchange
    ring, board = shared
    spec = _spec(tmp_path, port, ring, board)
    brain = BrainService(spec, strategy=LongOnce())
    task = asyncio.create_task(brain.run())
    await _until(lambda: brain.trader is not None and board.read("brain").beats > 0)
    i = int((START - btc.open_time[0]) // 60_000) - 1
    assert ring.write(candle_bytes(btc.candle(i)))
    await _until(lambda: _orders_sent(ex) >= 4)
    await _until(lambda: brain.trader is not None and len(brain.trader.state.orders) >= 2)
    brain.stop.set()
    assert await asyncio.wait_for(task, 15) == 0
    state_path(spec).unlink()  # the worst case: the Brain remembers nothing

    again = BrainService(spec, strategy=LongOnce())
    task = asyncio.create_task(again.run())
    await _until(lambda: again.trader is not None and board.read("brain").beats > 0)
    st = again.trader.state if again.trader else None
    assert st is not None and [p.symbol for p in st.positions] == ["BTCUSDT"]
    stops = [o for o in st.orders if o.purpose.name == "STOP_LOSS"]
    assert len(stops) == 1 and st.positions[0].stop_client_id == stops[0].client_id
    again.stop.set()
    assert await asyncio.wait_for(task, 15) == 0


async def test_keys_the_venue_refuses_stop_the_brain_with_the_no_restart_code(
    tmp_path: Path,
    exchange: tuple[LocalExchange, int],
    shared: tuple[RingBuffer, HeartbeatBoard],
) -> None:
    from dataclasses import replace

    from slt.runtime.brain_process import _main
    from slt.runtime.supervisor import EXIT_CONFIG

    _, port = exchange
    ring, board = shared
    spec = _spec(tmp_path, port, ring, board)
    wrong = replace(spec, venue=replace(spec.venue, secret="not-the-secret"))
    assert await asyncio.wait_for(_main(wrong), 30) == EXIT_CONFIG


async def test_flatten_on_shutdown_closes_through_refusals_with_one_client_id(
    tmp_path: Path,
    exchange: tuple[LocalExchange, int],
    shared: tuple[RingBuffer, HeartbeatBoard],
    btc: CandleSeries,
) -> None:
    from dataclasses import replace

    from slt.domain import ExitReason
    from slt.venues.local.faults import UNKNOWN_503

    ex, port = exchange
    ring, board = shared
    spec = replace(_spec(tmp_path, port, ring, board), flatten=True)
    brain = BrainService(spec, strategy=LongOnce())
    task = asyncio.create_task(brain.run())
    await _until(lambda: brain.trader is not None and board.read("brain").beats > 0)
    i = int((START - btc.open_time[0]) // 60_000) - 1
    assert ring.write(candle_bytes(btc.candle(i)))
    await _until(lambda: brain.trader is not None and len(brain.trader.state.positions) == 1)
    await _until(lambda: brain.trader is not None and len(brain.trader.state.orders) >= 2)
    trader = brain.trader
    assert trader is not None
    sent_before = len(ex.limits.requests("/fapi/v1/order"))
    # the exchange fails the next two order requests: the close must go through anyway
    ex.faults.reject(2, UNKNOWN_503, paths=["/fapi/v1/order"], methods=["POST"])

    brain.stop.set()
    assert await asyncio.wait_for(task, 30) == 0
    assert ex.account.positions["BTCUSDT"].amount == 0
    trades = [t.trade for t in trader.executor.trades]
    assert [t.exit_reason for t in trades] == [ExitReason.SHUTDOWN]
    posts = [r for r in ex.limits.requests("/fapi/v1/order")[sent_before:] if r.method == "POST"]
    assert len(posts) >= 3 and [r.status for r in posts][-1] == 200
    exits = {
        cid
        for by_id in ex.account.orders.values()
        for cid in [o.client_id for o in by_id.values()]
        if cid.endswith("-EX")
    }
    assert len(exits) == 1, exits
    assert trader.executor.close_retries >= 1
    assert not trader.state.positions
