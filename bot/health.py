"""``/healthz`` and ``/metrics`` on a local port, served by aiohttp on the bot's event loop.

Off by default (``GAPWATCH_METRICS_PORT``). ``/healthz`` answers 200 with
``{"status": "ok", "database": "ok", "discord": "connected", "last_poll": "…"}`` and 503
(``"status": "degraded"``) while the database cannot be reached; a disconnected gateway is
reported but is not a failure (discord.py reconnects by itself, and a restart would not help).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import Engine, text

from bot.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

# A health check must answer quickly even when the database host does not.
DB_CHECK_SECONDS = 2.0


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def database_ok(engine: Engine, *, timeout: float = DB_CHECK_SECONDS) -> bool:
    """Whether the store answers ``SELECT 1`` within ``timeout`` seconds (in a worker thread)."""
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping, engine), timeout)
    except Exception as exc:  # any failure to reach the store is "down", with its type logged
        log.debug("health check: database unavailable (%s)", type(exc).__name__)
        return False
    return True


def health_app(metrics: Metrics, engine: Engine) -> web.Application:
    """The aiohttp application with ``/healthz`` and ``/metrics``."""

    async def healthz(_request: web.Request) -> web.Response:
        db_ok = await database_ok(engine)
        metrics.database_up.set(1 if db_ok else 0)
        body = {
            "status": "ok" if db_ok else "degraded",
            "database": "ok" if db_ok else "error",
            "discord": metrics.discord,
            "last_poll": metrics.last_poll.isoformat() if metrics.last_poll else None,
        }
        return web.json_response(body, status=200 if db_ok else 503)

    async def prometheus(_request: web.Request) -> web.Response:
        response = web.Response(body=metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", prometheus)
    return app


class HealthServer:
    """The health and metrics endpoints on ``host:port`` (port 0: any free port, for tests).

    Args:
        metrics: The process's metrics.
        engine: The store to check.
        port: TCP port.
        host: Interface; loopback by default (put a proxy or the orchestrator's probe in front).
    """

    def __init__(
        self, metrics: Metrics, engine: Engine, port: int, host: str = "127.0.0.1"
    ) -> None:
        self.metrics = metrics
        self.engine = engine
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen; ``port`` is the bound port afterwards."""
        runner = web.AppRunner(health_app(self.metrics, self.engine), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        if runner.addresses:
            self.port = runner.addresses[0][1]
        self.metrics.up.set(1)
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening."""
        self.metrics.up.set(0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
