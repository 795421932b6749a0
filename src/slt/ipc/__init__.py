"""Inter-process plumbing: the shared-memory ring buffer between the Feed and the Brain."""

from slt.ipc.records import CANDLE_RECORD, candle_record, candle_records, candles_of
from slt.ipc.ring import RingBuffer

__all__ = ["CANDLE_RECORD", "RingBuffer", "candle_record", "candle_records", "candles_of"]
