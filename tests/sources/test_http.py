"""SourceClient against a real local HTTP server: retries, 304, size cap, JSON checks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from aiohttp import web

from jobs.sources.base import (
    SourceFormatError,
    SourceState,
    SourceTooLargeError,
    SourceUnavailableError,
)
from jobs.sources.evalplus import EvalPlusSource
from jobs.sources.http import RetryPolicy, SourceClient, parse_link_header, parse_retry_after
from tests.sources.conftest import LocalServer, Sleeps, fixture_bytes

JSON = "application/json"


def _json_handler(body: bytes, **headers: str):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=JSON, headers=headers)

    return handler


async def test_sends_user_agent_and_conditional_headers(server: LocalServer, client: SourceClient):
    server.route("/doc", _json_handler(b"[]"))
    await client.get(
        server.url("/doc"), etag='W/"abc"', last_modified="Wed, 21 Oct 2015 07:28:00 GMT"
    )
    request = server.requests[-1]
    assert request.headers["User-Agent"].startswith("gapwatch/")
    assert "+https://github.com/gapwatch/gapwatch" in request.headers["User-Agent"]
    assert request.headers["If-None-Match"] == 'W/"abc"'
    assert request.headers["If-Modified-Since"] == "Wed, 21 Oct 2015 07:28:00 GMT"


async def test_304_not_modified_with_etag_skips_parsing(server: LocalServer, client: SourceClient):
    etag = '"v1"'
    body = fixture_bytes("evalplus", "results.json")

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type=JSON, headers={"ETag": etag})

    server.route("/results.json", handler)
    source = EvalPlusSource(url=server.url("/results.json"))
    first = await source.fetch(client, SourceState())
    assert not first.not_modified and first.scores and first.etag == etag

    second = await source.fetch(client, first.state())
    assert second.not_modified
    assert second.scores == [] and second.models == []
    assert second.etag == etag and second.content_hash == first.content_hash
    assert server.requests[-1].headers["If-None-Match"] == etag


async def test_same_content_hash_is_not_modified(server: LocalServer, client: SourceClient):
    server.route("/results.json", _json_handler(fixture_bytes("evalplus", "results.json")))
    source = EvalPlusSource(url=server.url("/results.json"))
    first = await source.fetch(client, SourceState())
    again = await source.fetch(client, first.state())  # no ETag from this server
    assert again.not_modified and again.content_hash == first.content_hash


async def test_429_with_retry_after_seconds_then_success(
    server: LocalServer, client: SourceClient, sleeps: Sleeps
):
    async def handler(request: web.Request) -> web.Response:
        if server.hits["/limited"] == 1:
            return web.Response(status=429, headers={"Retry-After": "7"})
        return web.Response(body=b'{"ok": true}', content_type=JSON)

    server.route("/limited", handler)
    result = await client.get(server.url("/limited"), expect="json")
    assert result.json() == {"ok": True}
    assert sleeps.delays == [7.0]
    assert server.hits["/limited"] == 2


async def test_429_with_retry_after_http_date(
    server: LocalServer, client: SourceClient, sleeps: Sleeps
):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)

    async def handler(request: web.Request) -> web.Response:
        if server.hits["/limited"] == 1:
            return web.Response(status=429, headers={"Retry-After": when})
        return web.Response(body=b"[]", content_type=JSON)

    server.route("/limited", handler)
    await client.get(server.url("/limited"), expect="json")
    assert len(sleeps.delays) == 1 and 25 <= sleeps.delays[0] <= 30


async def test_retry_after_beyond_cap_gives_up_with_the_delay(
    server: LocalServer, client: SourceClient, sleeps: Sleeps
):
    server.route("/limited", lambda r: _status(429, {"Retry-After": "3600"}))
    with pytest.raises(SourceUnavailableError) as info:
        await client.get(server.url("/limited"))
    assert info.value.retry_after == 3600 and info.value.status == 429
    assert sleeps.delays == [] and server.hits["/limited"] == 1


async def _status(status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, headers=headers or {}, text="error")


async def test_500_then_success_uses_exponential_backoff(
    server: LocalServer, client: SourceClient, sleeps: Sleeps
):
    async def handler(request: web.Request) -> web.Response:
        if server.hits["/flaky"] <= 2:
            return web.Response(status=500, text="oops")
        return web.Response(body=b"[1]", content_type=JSON)

    server.route("/flaky", handler)
    result = await client.get(server.url("/flaky"), expect="json")
    assert result.json() == [1]
    assert sleeps.delays == [1.0, 2.0]  # base 1 s doubling; jitter source pinned to 0


async def test_500_forever_raises_unavailable_after_n_tries(
    server: LocalServer, client: SourceClient, sleeps: Sleeps
):
    server.route("/down", lambda r: _status(503))
    with pytest.raises(SourceUnavailableError) as info:
        await client.get(server.url("/down"), source="demo")
    assert server.hits["/down"] == 3
    assert len(sleeps.delays) == 2
    assert info.value.status == 503
    assert "HTTP 503 after 3 attempts" in str(info.value) and str(info.value).startswith("demo:")


async def test_404_is_not_retried(server: LocalServer, client: SourceClient, sleeps: Sleeps):
    with pytest.raises(SourceUnavailableError) as info:
        await client.get(server.url("/missing"))
    assert info.value.status == 404 and server.hits["/missing"] == 1 and sleeps.delays == []


async def test_read_timeout_is_retried_then_unavailable(server: LocalServer, sleeps: Sleeps):
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.Response(body=b"[]", content_type=JSON)

    server.route("/slow", slow)
    async with SourceClient(
        timeout=httpx.Timeout(0.2),
        retry=RetryPolicy(attempts=2, base_delay=0.5),
        sleep=sleeps,
        rand=lambda: 0.0,
    ) as client:
        with pytest.raises(SourceUnavailableError) as info:
            await client.get(server.url("/slow"))
    assert "timeout" in str(info.value)
    assert server.hits["/slow"] == 2 and sleeps.delays == [0.5]


async def test_total_deadline_stops_a_slow_drip(server: LocalServer, sleeps: Sleeps):
    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": JSON})
        await response.prepare(request)
        for _ in range(20):
            await response.write(b" ")
            await asyncio.sleep(0.05)
        await response.write(b"[]")
        return response

    server.route("/drip", drip)
    async with SourceClient(
        timeout=httpx.Timeout(1.0),
        retry=RetryPolicy(attempts=1),
        total_timeout=0.3,
        sleep=sleeps,
    ) as client:
        with pytest.raises(SourceUnavailableError, match="no complete response"):
            await client.get(server.url("/drip"))


async def test_connection_refused_is_unavailable(sleeps: Sleeps):
    async with SourceClient(
        retry=RetryPolicy(attempts=2), sleep=sleeps, rand=lambda: 0.0
    ) as client:
        with pytest.raises(SourceUnavailableError, match="network error"):
            await client.get("http://127.0.0.1:9/nothing")
    assert len(sleeps.delays) == 1


async def test_truncated_json_is_a_format_error(server: LocalServer, client: SourceClient):
    body = fixture_bytes("evalplus", "results.json")
    server.route("/results.json", _json_handler(body[: len(body) // 2]))
    with pytest.raises(SourceFormatError, match="truncated JSON"):
        await EvalPlusSource(url=server.url("/results.json")).fetch(client, SourceState())


async def test_html_error_page_with_200_is_a_format_error(
    server: LocalServer, client: SourceClient
):
    async def html(request: web.Request) -> web.Response:
        return web.Response(
            text="<!DOCTYPE html><html><body>Service temporarily down</body></html>",
            content_type="text/html",
        )

    server.route("/results.json", html)
    with pytest.raises(SourceFormatError, match="HTML"):
        await EvalPlusSource(url=server.url("/results.json")).fetch(client, SourceState())


async def test_html_served_as_json_is_still_caught(server: LocalServer, client: SourceClient):
    server.route("/api", _json_handler(b"\n  <html><head><title>502</title></head></html>"))
    with pytest.raises(SourceFormatError, match="HTML"):
        await client.get(server.url("/api"), expect="json")


async def test_declared_size_over_cap_is_refused(server: LocalServer, client: SourceClient):
    server.route("/big", _json_handler(b"[" + b"0," * 600_000 + b"0]"))
    with pytest.raises(SourceTooLargeError, match="cap"):
        await client.get(server.url("/big"))


async def test_streamed_size_over_cap_is_aborted(server: LocalServer, client: SourceClient):
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": JSON})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(30):
            await response.write(b"x" * 65536)  # ~2 MB in total, no Content-Length
        return response

    server.route("/stream", chunked)
    with pytest.raises(SourceTooLargeError):
        await client.get(server.url("/stream"))
    assert isinstance(SourceTooLargeError("x"), SourceFormatError)


def test_parse_retry_after_forms():
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 01 Jan 2025 00:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Tue, 31 Dec 2024 23:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_parse_link_header():
    header = (
        '<https://huggingface.co/api/models?author=x&cursor=abc>; rel="next", '
        '<https://huggingface.co/api/models?author=x>; rel="first"'
    )
    links = parse_link_header(header)
    assert links["next"] == "https://huggingface.co/api/models?author=x&cursor=abc"
    assert links["first"] == "https://huggingface.co/api/models?author=x"
    assert parse_link_header(None) == {}
