"""The Feed process: closed candles in from the venue, checked, and published to the Brain.

The pure parts, importable anywhere: `firewall` (the checks every candle passes before it is
published), `assembler` (kline updates to exactly one closed candle per open time), `gaps`
(which candles are missing and what a fill brought back) and `lag` (close-lag percentiles).
The I/O shell is `slt.feed.service` (imported on its own, as it pulls in the venue client
and the store).
"""

from slt.feed.assembler import CandleAssembler, Closed
from slt.feed.firewall import ACCEPTED, Firewall, Reason, Verdict
from slt.feed.gaps import Gap, GapCounts, fill_plan, gap_between
from slt.feed.lag import LagTracker

__all__ = [
    "ACCEPTED",
    "CandleAssembler",
    "Closed",
    "Firewall",
    "Gap",
    "GapCounts",
    "LagTracker",
    "Reason",
    "Verdict",
    "fill_plan",
    "gap_between",
]
