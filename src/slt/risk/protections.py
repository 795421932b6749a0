"""Protections that pause entries: a daily drawdown halt and a cooldown after a losing streak."""

from __future__ import annotations

import msgspec

from slt.config import RiskConfig
from slt.domain.candle import DAY_MS


class Protections(msgspec.Struct, frozen=True):
    """`day_start_ms`/`day_start_equity` anchor the UTC day; entries pause while `halted` is set
    (until the next UTC day) or until `cooldown_until_ms`."""

    day_start_ms: int = -1
    day_start_equity: float = 0.0
    halted: bool = False
    consecutive_losses: int = 0
    cooldown_until_ms: int = 0


def roll_day(p: Protections, now_ms: int, equity: float) -> Protections:
    day = now_ms - now_ms % DAY_MS
    if day == p.day_start_ms:
        return p
    return msgspec.structs.replace(p, day_start_ms=day, day_start_equity=equity, halted=False)


def check_drawdown(cfg: RiskConfig, p: Protections, equity: float) -> Protections:
    """Halt new entries for the rest of the UTC day once equity fell `daily_drawdown_halt` below
    the day's starting equity."""
    if p.halted or p.day_start_equity <= 0:
        return p
    if (p.day_start_equity - equity) / p.day_start_equity >= cfg.daily_drawdown_halt:
        return msgspec.structs.replace(p, halted=True)
    return p


def record_trade(cfg: RiskConfig, p: Protections, net_pnl: float, now_ms: int) -> Protections:
    """Count losing streaks; after `max_consecutive_losses` pause entries for `cooldown_ms`."""
    if net_pnl > 0:
        return msgspec.structs.replace(p, consecutive_losses=0) if p.consecutive_losses else p
    losses = p.consecutive_losses + 1
    if losses >= cfg.max_consecutive_losses:
        return msgspec.structs.replace(
            p, consecutive_losses=0, cooldown_until_ms=now_ms + cfg.cooldown_ms
        )
    return msgspec.structs.replace(p, consecutive_losses=losses)


def entries_allowed(p: Protections, now_ms: int) -> bool:
    return not p.halted and now_ms >= p.cooldown_until_ms
