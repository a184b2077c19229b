"""Rate limits and injected faults: what the emulator does to a request before handling it.

Rate-limit semantics follow discord-api-docs topics/rate-limits.mdx: every response carries
``X-RateLimit-*`` headers; a 429 carries ``retry_after`` (seconds) in the body and says whether
the limit is global. Interaction endpoints are not bound by the global limit (L128).
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

# https://discord.com/developers/docs/topics/rate-limits#global-rate-limit
GLOBAL_PER_SECOND = 50
# Discord does not publish per-route limits; 5 per 5 s is what channel message creation shows.
ROUTE_LIMIT = 5
ROUTE_PERIOD = 5.0

# discord.py treats a 429 without a Via header as a Cloudflare ban and raises instead of
# retrying (http.py, webhook/async_.py), so every response says it came through Google's LB
# as Discord's do.
VIA = "1.1 google"


@dataclass
class _Window:
    """A fixed window: ``limit`` requests per ``period`` seconds starting at ``started``."""

    limit: int
    period: float
    started: float
    used: int = 0

    def roll(self, now: float) -> None:
        if now >= self.started + self.period:
            self.started = now
            self.used = 0

    def reset_after(self, now: float) -> float:
        # Rounded up to the millisecond: a client sleeping this long finds the window rolled.
        return max(math.ceil((self.started + self.period - now) * 1000) / 1000, 0.001)


@dataclass(frozen=True)
class RateLimitVerdict:
    """Headers for the response, and ``retry_after`` when the request must get a 429."""

    headers: dict[str, str]
    retry_after: float | None = None
    is_global: bool = False

    def body(self) -> JSON:
        """The 429 body discord.py reads (``retry_after``, ``global``)."""
        return {
            "message": "You are being rate limited.",
            "retry_after": self.retry_after,
            "global": self.is_global,
            "code": 0,
        }


class RateLimiter:
    """Per-route buckets and the global limit, enforced only when ``enabled``.

    When disabled the headers still describe a bucket, but never an exhausted one, so
    discord.py never sleeps pre-emptively.
    """

    def __init__(
        self,
        *,
        enabled: bool = False,
        global_per_second: int = GLOBAL_PER_SECOND,
        route_limit: int = ROUTE_LIMIT,
        route_period: float = ROUTE_PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self.global_per_second = global_per_second
        self.route_limit = route_limit
        self.route_period = route_period
        self._clock = clock
        self._routes: dict[str, _Window] = {}
        self._global: _Window | None = None

    def check(
        self, method: str, route: str, major: str, *, counts_globally: bool
    ) -> RateLimitVerdict:
        """Count one request and decide whether it is over a limit.

        Args:
            method: HTTP method.
            route: The route template, e.g. ``/channels/{channel_id}/messages``.
            major: The major parameters (channel, guild or webhook id) separating buckets.
            counts_globally: False for interaction endpoints, which the global limit spares.
        """
        bucket = hashlib.sha1(f"{method} {route}".encode()).hexdigest()[:16]
        if not self.enabled:
            return RateLimitVerdict(self._headers(bucket, self.route_limit - 1, self.route_period))
        now = self._clock()
        if counts_globally:
            verdict = self._check_global(now, bucket)
            if verdict is not None:
                return verdict
        window = self._routes.setdefault(
            f"{bucket}:{major}", _Window(self.route_limit, self.route_period, now)
        )
        window.roll(now)
        reset_after = window.reset_after(now)
        if window.used >= window.limit:
            headers = self._headers(bucket, 0, reset_after)
            headers.update(_retry_headers(reset_after, scope="user"))
            return RateLimitVerdict(headers, retry_after=reset_after)
        window.used += 1
        return RateLimitVerdict(self._headers(bucket, window.limit - window.used, reset_after))

    def _check_global(self, now: float, bucket: str) -> RateLimitVerdict | None:
        if self._global is None:
            self._global = _Window(self.global_per_second, 1.0, now)
        self._global.roll(now)
        if self._global.used < self._global.limit:
            self._global.used += 1
            return None
        reset_after = self._global.reset_after(now)
        headers = self._headers(bucket, 0, reset_after)
        headers.update(_retry_headers(reset_after, scope="global"))
        headers["X-RateLimit-Global"] = "true"
        return RateLimitVerdict(headers, retry_after=reset_after, is_global=True)

    def _headers(self, bucket: str, remaining: int, reset_after: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.route_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }


def _retry_headers(retry_after: float, *, scope: str) -> dict[str, str]:
    return {"Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Scope": scope}


@dataclass
class FaultRule:
    """Answer the next ``times`` requests matching ``method`` and ``path`` with an error.

    ``path`` is a glob over the path after ``/api/v10`` (``*`` also matches ``/``), e.g.
    ``/channels/*/messages``.
    """

    method: str
    path: str
    status: int
    body: JSON | None = None
    retry_after: float | None = None
    times: int = 1
    hits: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule still applies to a request."""
        return self.hits < self.times and request_matches(self.method, self.path, method, path)

    def response_body(self) -> JSON:
        """The error body: the caller's, or Discord's usual one for the status."""
        if self.body is not None:
            return self.body
        if self.status == 429:
            return {
                "message": "You are being rate limited.",
                "retry_after": self.retry_after if self.retry_after is not None else 0.0,
                "global": False,
                "code": 0,
            }
        return {"message": _DEFAULT_MESSAGES.get(self.status, f"{self.status}"), "code": 0}

    def response_headers(self) -> dict[str, str]:
        """Extra headers: a 429 says how long to wait and that it hit one user's bucket."""
        if self.status != 429:
            return {}
        return _retry_headers(self.retry_after or 0.0, scope="user")


def request_matches(method_pattern: str, path_glob: str, method: str, path: str) -> bool:
    """Whether a request matches a method (or ``"*"``) and a path glob."""
    method_ok = method_pattern == "*" or method_pattern.upper() == method
    return method_ok and fnmatch.fnmatchcase(path, path_glob)


_DEFAULT_MESSAGES = {
    400: "400: Bad Request",
    401: "401: Unauthorized",
    403: "Missing Access",
    404: "404: Not Found",
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
}
