"""Shared homes for the weight governor's window: a locked file, or Redis.

Both apply `governor.decide` atomically: the file under an exclusive advisory lock (`flock`),
Redis inside one Lua script (the same rule written in Lua, since Redis runs scripts
atomically and cannot call Python; a test replays random operation sequences through both
and requires identical answers).

Redis never stops trading: `FailoverStore` keeps the window in Redis while it answers and in
this machine's file while it does not (one warning a minute, probed every few seconds). The
file cannot know what other machines spent meanwhile, but every answer's used-weight header
corrects the window again, and a 429 still stops every caller here.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import time
from pathlib import Path
from typing import Any

from slt.config import Settings
from slt.storage.redis_health import RedisHealth, redis_client
from slt.venues.binance.governor import (
    WINDOW_MS,
    BudgetStore,
    Charge,
    WeightGovernor,
    decide,
    observed,
    window_start,
)

_STATE = struct.Struct("<qqq")  # window start, used, blocked until


class FileStore:
    """Window state in a small file that every process of the machine opens (`path`)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    def close(self) -> None:
        os.close(self._fd)

    def _read(self) -> tuple[int, int, int]:
        raw = os.pread(self._fd, _STATE.size, 0)
        if len(raw) < _STATE.size:
            return 0, 0, 0
        window, used, blocked = _STATE.unpack(raw)
        return int(window), int(used), int(blocked)

    def _write(self, window: int, used: int, blocked: int) -> None:
        os.pwrite(self._fd, _STATE.pack(window, used, blocked), 0)

    async def try_charge(self, weight: int, budget: int, now_ms: int) -> Charge:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            window, used, blocked = self._read()
            window, used, wait = decide(window, used, blocked, weight, budget, now_ms)
            self._write(window, used, blocked)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return Charge(wait, used)

    async def observe(self, used: int, now_ms: int) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            window, spent, blocked = self._read()
            window, spent = observed(window, spent, used, now_ms)
            self._write(window, spent, blocked)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    async def block_until(self, until_ms: int) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            window, used, blocked = self._read()
            self._write(window, used, max(blocked, until_ms))
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    async def used(self, now_ms: int) -> int:
        window, used, _ = self._read()
        return used if window == window_start(now_ms) else 0


_CHARGE = """
local window = tonumber(redis.call('HGET', KEYS[1], 'window') or '0')
local used = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked') or '0')
local weight, budget = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, span = tonumber(ARGV[3]), tonumber(ARGV[4])
local current = now - (now % span)
if window ~= current then window = current; used = 0 end
local wait = 0
if blocked > now then
  wait = blocked - now
elseif used + weight <= budget then
  used = used + weight
else
  wait = current + span - now
end
redis.call('HSET', KEYS[1], 'window', window, 'used', used)
redis.call('PEXPIRE', KEYS[1], math.max(2 * span, blocked - now + span))
return {wait, used}
"""

_OBSERVE = """
local window = tonumber(redis.call('HGET', KEYS[1], 'window') or '0')
local spent = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
local used, now, span = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local current = now - (now % span)
if window ~= current then window = current; spent = 0 end
redis.call('HSET', KEYS[1], 'window', window, 'used', math.max(spent, used))
if redis.call('PTTL', KEYS[1]) < 2 * span then redis.call('PEXPIRE', KEYS[1], 2 * span) end
return 0
"""

_BLOCK = """
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked') or '0')
local until_ms, now, span = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
blocked = math.max(blocked, until_ms)
redis.call('HSET', KEYS[1], 'blocked', blocked)
redis.call('PEXPIRE', KEYS[1], math.max(2 * span, blocked - now + span))
return 0
"""


class RedisStore:
    """Window state in a Redis hash `key` shared by every bot that trades from one IP.

    `client` is a `redis.asyncio.Redis`. The key expires on its own once the window and any
    block are over, so a stopped bot leaves nothing behind."""

    def __init__(self, client: Any, key: str = "slt:weight:default") -> None:
        self.client = client
        self.key = key
        self._charge = client.register_script(_CHARGE)
        self._observe = client.register_script(_OBSERVE)
        self._block = client.register_script(_BLOCK)

    async def try_charge(self, weight: int, budget: int, now_ms: int) -> Charge:
        wait, used = await self._charge(keys=[self.key], args=[weight, budget, now_ms, WINDOW_MS])
        return Charge(int(wait), int(used))

    async def observe(self, used: int, now_ms: int) -> None:
        await self._observe(keys=[self.key], args=[used, now_ms, WINDOW_MS])

    async def block_until(self, until_ms: int) -> None:
        now = time.time_ns() // 1_000_000  # only sets the key's expiry
        await self._block(keys=[self.key], args=[until_ms, now, WINDOW_MS])

    async def used(self, now_ms: int) -> int:
        state = await self.client.hgetall(self.key)
        window = int(state.get(b"window", 0))
        return int(state.get(b"used", 0)) if window == window_start(now_ms) else 0


class FailoverStore:
    """The window in Redis (`shared`) while Redis answers, else in a local file (`local`)."""

    def __init__(self, shared: RedisStore, local: FileStore, health: RedisHealth) -> None:
        self.shared, self.local, self.health = shared, local, health

    @property
    def key(self) -> str:
        return self.shared.key

    async def try_charge(self, weight: int, budget: int, now_ms: int) -> Charge:
        ok, charge = await self.health.call(lambda: self.shared.try_charge(weight, budget, now_ms))
        return charge if ok else await self.local.try_charge(weight, budget, now_ms)

    async def observe(self, used: int, now_ms: int) -> None:
        ok, _ = await self.health.call(lambda: self.shared.observe(used, now_ms))
        if not ok:
            await self.local.observe(used, now_ms)

    async def block_until(self, until_ms: int) -> None:
        await self.local.block_until(until_ms)  # a ban must hold here even if Redis is lost
        await self.health.call(lambda: self.shared.block_until(until_ms))

    async def used(self, now_ms: int) -> int:
        ok, used = await self.health.call(lambda: self.shared.used(now_ms))
        return int(used) if ok else await self.local.used(now_ms)


def shared_governor(settings: Settings, venue_host: str) -> WeightGovernor:
    """The governor every process of this system (and, with Redis, every bot on this IP)
    shares for `venue_host`: Redis when `SLT_REDIS_URL` is set (a file under the data
    directory while Redis is down), else that file. Its budget is `venue.weight_share` of
    Binance's limit."""
    store: BudgetStore
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in venue_host)
    local = FileStore(settings.data_dir / "run" / f"weight-{safe}.bin")
    if settings.redis_url:
        health = RedisHealth(
            "Redis weight budget",
            "counting request weight in this machine's file",
            log=logging.getLogger("slt.venues.binance"),
            clock=lambda: time.time_ns() // 1_000_000,
        )
        shared = RedisStore(redis_client(settings.redis_url), key=f"slt:weight:{safe}")
        store = FailoverStore(shared, local, health)
    else:
        store = local
    return WeightGovernor(store, share=settings.venue.weight_share)
