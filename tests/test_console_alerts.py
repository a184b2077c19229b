"""Console mode end to end: the real runtime without a Discord token polls a source over HTTP
(a local server) and prints the alert the ingest created to the console's stream."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.app import runtime
from bot.settings import Settings

GUILD = 222_000_000_000_000_001
CHANNEL = 222_000_000_000_000_002


class ResultsServer:
    """Serves an EvalPlus-shaped ``results.json`` whose content the test sets."""

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        return web.Response(body=json.dumps(self.results), content_type="application/json")


@pytest.fixture
async def results_server() -> AsyncIterator[ResultsServer]:
    server = ResultsServer()
    app = web.Application()
    app.router.add_get("/results.json", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}/results.json"
    try:
        yield server
    finally:
        await runner.cleanup()


def coder(size: float | None, humaneval: float) -> dict[str, Any]:
    return {"link": None, "open-data": "NONE", "pass@1": {"humaneval": humaneval}, "size": size}


async def test_console_mode_prints_an_alert_created_by_an_ingest(
    db_url: str, results_server: ResultsServer
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=db_url,
        sources_enabled=["evalplus"],
        source_base_urls={"evalplus": results_server.url},
    )
    assert settings.discord_token is None
    out = io.StringIO()
    async with runtime(settings, console=out) as rt:
        assert rt.poller is not None and rt.alert_service is not None
        rt.alert_service.set_channel(GUILD, CHANNEL)
        results_server.results = {"Small Coder 7B": coder(7, 40.0)}
        assert (await rt.poller.poll("evalplus")).ok  # the source's first data: a baseline
        await rt.deliver()
        assert out.getvalue() == ""
        results_server.results["Giant Open Coder"] = coder(400, 99.5)
        assert (await rt.poller.poll("evalplus")).ok
        await rt.deliver()
    printed = out.getvalue()
    assert f"[gapwatch alert] → channel {CHANNEL}" in printed
    assert "New open-weights best on HumanEval: Giant Open Coder" in printed
