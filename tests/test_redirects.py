"""Redirects (checklist 27): followed only within the source's own host or to allowed hosts.

The source tests' real HTTP server on 127.0.0.1 plays the source; a second server reached as
``localhost`` plays another host (same machine, different host name: what the check compares).
A refused redirect fails the poll with a message naming the host, recorded on the source's row
(what /sources shows), and writes no data; the other host is never contacted.
"""

# The HTTP fixtures (server, client, sleeps) live in tests/sources/conftest.py; importing them
# here makes pytest use them, and their names then shadow the import by design.
# ruff: noqa: F811

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from sqlalchemy import Engine

from bot.answers import Answers
from bot.text import sources_text
from jobs.polling import Poller
from jobs.sources.base import SourceState, SourceUnavailableError
from jobs.sources.evalplus import EvalPlusSource
from jobs.sources.http import MAX_REDIRECTS, RetryPolicy, SourceClient, check_redirect
from tests.sources.conftest import (  # noqa: F401 (fixtures)
    LocalServer,
    Sleeps,
    client,
    fixture_bytes,
    server,
    serving,
    sleeps,
)
from tests.test_ingest import source_scores, source_state, store_counts

RESULTS = fixture_bytes("evalplus", "results.json")


def serve_json(body: bytes):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    return handler


def redirect_to(location: str, status: int = 302):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    return handler


@pytest.fixture
async def elsewhere() -> AsyncIterator[LocalServer]:
    """Another HTTP server, addressed as ``localhost`` (a host other than 127.0.0.1)."""
    async with serving("localhost") as state:
        yield state


# --- the client ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_within_the_same_host_is_followed(
    server: LocalServer, client: SourceClient, status: int
) -> None:
    server.route("/old/results.json", redirect_to("/new/results.json", status))
    server.route("/new/results.json", serve_json(RESULTS))
    result = await client.get(server.url("/old/results.json"), source="evalplus", expect="json")
    assert result.status == 200 and result.content == RESULTS
    assert result.url == server.url("/new/results.json")
    assert server.hits == {"/old/results.json": 1, "/new/results.json": 1}


async def test_redirect_to_another_host_is_refused_without_contacting_it(
    server: LocalServer, elsewhere: LocalServer, client: SourceClient, sleeps: Sleeps
) -> None:
    elsewhere.route("/results.json", serve_json(RESULTS))
    server.route("/results.json", redirect_to(elsewhere.url("/results.json?token=secret")))
    with pytest.raises(SourceUnavailableError) as caught:
        await client.get(server.url("/results.json"), source="evalplus", expect="json")
    message = str(caught.value)
    assert "redirect from 127.0.0.1 to localhost refused" in message
    assert "allowed redirect host" in message
    assert "secret" not in message  # no query string (tokens) in the error
    assert elsewhere.hits == {}
    assert server.hits == {"/results.json": 1} and sleeps.delays == []  # refused, not retried


async def test_a_hop_back_to_another_host_after_a_same_host_hop_is_refused(
    server: LocalServer, elsewhere: LocalServer, client: SourceClient
) -> None:
    elsewhere.route("/x", serve_json(RESULTS))
    server.route("/a", redirect_to("/b"))
    server.route("/b", redirect_to(elsewhere.url("/x")))
    with pytest.raises(SourceUnavailableError, match="to localhost refused"):
        await client.get(server.url("/a"), source="evalplus")
    assert elsewhere.hits == {}


async def test_allow_listed_host_per_source_is_followed_without_the_callers_headers(
    server: LocalServer, elsewhere: LocalServer, sleeps: Sleeps
) -> None:
    elsewhere.route("/mirror/results.json", serve_json(RESULTS))
    server.route("/results.json", redirect_to(elsewhere.url("/mirror/results.json")))
    async with SourceClient(
        sleep=sleeps, redirect_hosts={"evalplus": ["localhost"]}, retry=RetryPolicy(attempts=1)
    ) as allowing:
        result = await allowing.get(
            server.url("/results.json"),
            source="evalplus",
            headers={"X-Api-Key": "k-123"},
            expect="json",
        )
        assert result.content == RESULTS and result.url == elsewhere.url("/mirror/results.json")
        assert server.requests[-1].headers["X-Api-Key"] == "k-123"
        forwarded = elsewhere.requests[-1].headers
        assert "X-Api-Key" not in forwarded  # the key stays with the host it was meant for
        assert forwarded["User-Agent"].startswith("gapwatch/")

        # The allow-list is per source: another source on the same client may not go there.
        with pytest.raises(SourceUnavailableError, match="to localhost refused"):
            await allowing.get(server.url("/results.json"), source="lmarena")
    assert elsewhere.hits == {"/mirror/results.json": 1}


async def test_allow_listed_host_per_request(
    server: LocalServer, elsewhere: LocalServer, client: SourceClient
) -> None:
    elsewhere.route("/r", serve_json(b"[]"))
    server.route("/r", redirect_to(elsewhere.url("/r")))
    result = await client.get(server.url("/r"), source="x", redirect_hosts=["localhost"])
    assert result.content == b"[]"


async def test_at_most_five_redirects(server: LocalServer, client: SourceClient) -> None:
    for n in range(MAX_REDIRECTS + 1):
        server.route(f"/{n}", redirect_to(f"/{n + 1}"))
    server.route(f"/{MAX_REDIRECTS}", serve_json(b"{}"))
    assert (await client.get(server.url("/0"))).url == server.url(f"/{MAX_REDIRECTS}")

    server.route(f"/{MAX_REDIRECTS}", redirect_to(f"/{MAX_REDIRECTS + 1}"))
    server.route(f"/{MAX_REDIRECTS + 1}", serve_json(b"{}"))
    with pytest.raises(SourceUnavailableError, match=f"more than {MAX_REDIRECTS} redirects"):
        await client.get(server.url("/0"))
    assert server.hits.get(f"/{MAX_REDIRECTS + 1}", 0) == 0


def test_redirect_rules() -> None:
    def check(origin: str, target: str, allowed: tuple[str, ...] = ()) -> None:
        check_redirect(httpx.URL(origin), httpx.URL(target), allowed, source="s")

    check("https://epoch.ai/data/a.zip", "https://epoch.ai/data/b.zip")
    check("https://EPOCH.ai/a", "https://epoch.ai/b")  # host names are case-insensitive
    check("http://epoch.ai/a", "https://epoch.ai/a")  # an upgrade is fine
    check("https://huggingface.co/a", "https://cdn-lfs.hf.co/x", (".hf.co",))
    check("https://huggingface.co/a", "https://hf.co/x", (".hf.co",))
    with pytest.raises(SourceUnavailableError, match="https to plain http"):
        check("https://epoch.ai/a", "http://epoch.ai/a")
    with pytest.raises(SourceUnavailableError, match=re.escape("to evil-hf.co refused")):
        check("https://huggingface.co/a", "https://evil-hf.co/x", (".hf.co",))
    with pytest.raises(SourceUnavailableError, match=re.escape("to epoch.ai.evil.example refused")):
        check("https://epoch.ai/a", "https://epoch.ai.evil.example/a")
    with pytest.raises(SourceUnavailableError, match=re.escape("to 169.254.169.254 refused")):
        check("https://epoch.ai/a", "https://169.254.169.254/latest/meta-data")
    with pytest.raises(SourceUnavailableError, match="ftp"):
        check("https://epoch.ai/a", "ftp://epoch.ai/a")


# --- a poll ends on the source's row, writing nothing (both databases) -------------------------


async def test_refused_redirect_fails_the_poll_and_shows_in_sources(
    engine: Engine, server: LocalServer, elsewhere: LocalServer, client: SourceClient
) -> None:
    elsewhere.route("/results.json", serve_json(RESULTS))
    server.route("/results.json", redirect_to(elsewhere.url("/results.json")))
    before = store_counts(engine)
    polls = Poller(
        engine=engine, client=client, sources=[EvalPlusSource(url=server.url("/results.json"))]
    )

    outcome = await polls.poll("evalplus")

    assert not outcome.ok and "to localhost refused" in (outcome.error or "")
    row = source_state(engine, "evalplus")
    assert row is not None and row.consecutive_failures == 1 and row.last_success_at is None
    assert "redirect from 127.0.0.1 to localhost refused" in (row.last_error or "")
    assert store_counts(engine) == {**before, "source": before["source"] + 1}
    assert source_scores(engine, "evalplus") == 0
    assert elsewhere.hits == {}
    shown = sources_text(Answers(engine).sources())
    assert "evalplus" in shown and "redirect from 127.0.0.1 to localhost refused" in shown


async def test_same_host_redirect_poll_stores_the_data(
    engine: Engine, server: LocalServer, client: SourceClient
) -> None:
    server.route("/results.json", redirect_to("/v2/results.json", 301))
    server.route("/v2/results.json", serve_json(RESULTS))
    source = EvalPlusSource(url=server.url("/results.json"))
    outcome = await Poller(engine=engine, client=client, sources=[source]).poll("evalplus")
    assert outcome.ok and source_scores(engine, "evalplus") > 0
    assert (await source.fetch(client, SourceState())).scores


def test_each_source_may_redirect_within_its_own_organisation_only() -> None:
    """The default allow-list: Hugging Face's CDN for the Hub sources, GitHub's content host
    for the GitHub-hosted ones, and nothing from one organisation to another."""
    client = SourceClient()
    hub = client.redirect_hosts["huggingface"]
    check_redirect(
        httpx.URL("https://huggingface.co/api/models"),
        httpx.URL("https://cdn-lfs.huggingface.co/x"),
        hub,
        source="huggingface",
    )
    check_redirect(
        httpx.URL("https://huggingface.co/a"),
        httpx.URL("https://cas-bridge.xethub.hf.co/x"),
        hub,
        source="huggingface",
    )
    with pytest.raises(SourceUnavailableError, match="refused"):
        check_redirect(
            httpx.URL("https://epoch.ai/data/benchmark_data.zip"),
            httpx.URL("https://huggingface.co/x"),
            client.redirect_hosts["epoch"],
            source="epoch",
        )
    assert set(client.redirect_hosts) >= {"epoch", "huggingface", "lmarena", "evalplus"}
