"""Peer tests of the feature layer against `smartmoneyconcepts` (a dev extra).

The tests import the adapter `smc_known` beside this file; with pytest's importlib import mode a
test module's folder is not on sys.path, so it is added here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# The peer prints a banner on import unless this is "0".
os.environ.setdefault("SMC_CREDIT", "0")
