"""The Feed process: closed candles in from the venue, checked, and published to the Brain.

`firewall` holds the pure checks every candle passes before it is published.
"""

from slt.feed.firewall import ACCEPTED, Firewall, Reason, Verdict

__all__ = ["ACCEPTED", "Firewall", "Reason", "Verdict"]
