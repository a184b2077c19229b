"""Fixtures: a real HTTP server on 127.0.0.1 (aiohttp), a no-wait client, fixture files."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from jobs.sources.http import RetryPolicy, SourceClient

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sources"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def fixture_path(*parts: str) -> Path:
    """Path of a fixture file under tests/fixtures/sources."""
    return FIXTURES.joinpath(*parts)


def fixture_bytes(*parts: str) -> bytes:
    """Bytes of a fixture file."""
    return fixture_path(*parts).read_bytes()


def epoch_zip(overrides: dict[str, str] | None = None, folder: str = "benchmark_data/") -> bytes:
    """The epoch fixture CSVs zipped like Epoch's archive (optionally with replaced files)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(fixture_path("epoch").glob("*.csv")):
            text = (overrides or {}).get(path.name, path.read_text(encoding="utf-8"))
            archive.writestr(folder + path.name, text)
    return buffer.getvalue()


@dataclass
class LocalServer:
    """A real aiohttp server; tests register handlers per path and read hit counts."""

    base_url: str = ""
    handlers: dict[str, Handler] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    requests: list[web.Request] = field(default_factory=list)

    def route(self, path: str, handler: Handler) -> None:
        """Serve ``handler`` at ``path``."""
        self.handlers[path] = handler

    def url(self, path: str) -> str:
        """Absolute URL of ``path``."""
        return self.base_url + path

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        self.requests.append(request)
        handler = self.handlers.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)


@asynccontextmanager
async def serving(host: str = "127.0.0.1") -> AsyncIterator[LocalServer]:
    """A local HTTP server on 127.0.0.1 with a free port, addressed as ``host``."""
    state = LocalServer()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", state.dispatch)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.base_url = f"http://{host}:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    """Start a local HTTP server on 127.0.0.1 with a free port."""
    async with serving() as state:
        yield state


@dataclass
class Sleeps:
    """Records the delays the client asked for instead of waiting."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    """The injected sleep."""
    return Sleeps()


@pytest.fixture
async def client(sleeps: Sleeps) -> AsyncIterator[SourceClient]:
    """A SourceClient with short timeouts, no real waiting and no jitter."""
    async with SourceClient(
        timeout=httpx.Timeout(2.0, connect=1.0),
        retry=RetryPolicy(attempts=3, base_delay=1.0, max_delay=8.0, jitter=0.5),
        sleep=sleeps,
        rand=lambda: 0.0,
        total_timeout=5.0,
        max_bytes=1_000_000,
    ) as source_client:
        yield source_client
