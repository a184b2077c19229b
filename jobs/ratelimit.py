"""Pacing for Discord sends: an async token bucket.

Discord allows a bot 50 requests per second globally (interaction responses excepted); every
request over it is a 429, and 10,000 × 401/403/429 in 10 minutes earn a Cloudflare ban. The
dispatcher awaits :meth:`TokenBucket.acquire` before each send, so one alert fanned out to
1,000 channels goes out at :data:`DEFAULT_RATE` instead of as fast as Discord answers.

The bucket holds at most ``capacity`` tokens and gains ``rate`` per second: in any window of
one second at most ``capacity + rate`` acquisitions complete. The default capacity is 3: the
dispatcher's pause to claim its next batch (a few tens of ms) is made up afterwards instead of
lost, and no second sees more than 48 sends, which leaves room below Discord's 50/s for the
bot's other calls (fetching a user or guild, opening a DM).
Waiters are served in the order they asked (an ``asyncio.Lock`` wakes its waiters first come,
first served). Per-channel limits (5 per 5 s) are left to discord.py, which reads the route
bucket headers and waits before a request that would exceed them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

DEFAULT_RATE = 46.0
"""Sends per second: Discord's global 50/s less a margin for the bot's other requests
(interaction responses do not count against the global limit; user and DM look-ups do)."""

DEFAULT_CAPACITY = 3.0
"""The largest burst: covers a claim between two batches; 46 + 3 stays below 50 a second."""


class TokenBucket:
    """At most ``capacity + rate`` acquisitions in any one-second window, served in order.

    Args:
        rate: Tokens gained per second.
        capacity: Most tokens held (the largest burst); at least 1.
        clock: Seconds, monotonic (tests pass a fake one).
        sleep: Waits that many seconds (tests pass one that advances their fake clock).
    """

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        capacity: float = DEFAULT_CAPACITY,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for a token and take it (callers are served in the order they called)."""
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await self._sleep((1 - self._tokens) / self.rate)

    def _refill(self) -> None:
        now = self._clock()
        gained = (now - self._updated) * self.rate
        self._updated = now
        # A sub-nanosecond shortfall is float rounding of a sleep that was long enough.
        self._tokens = min(self.capacity, self._tokens + gained + 1e-9)
