"""The one HTTP client every source adapter uses.

``SourceClient`` wraps a long-lived ``httpx.AsyncClient`` (explicit ``Timeout`` and ``Limits``)
and adds what httpx does not do (see docs/notes on httpx robustness):

- retries with exponential backoff and jitter on connect errors, timeouts, 5xx and 429,
  honouring ``Retry-After`` (seconds or HTTP date) up to a cap;
- a total deadline per attempt (``asyncio.timeout``), since httpx's read timeout is per chunk;
- a response size cap enforced while streaming (``SourceTooLargeError``);
- conditional requests (``If-None-Match``/``If-Modified-Since``; 304 → ``not_modified``);
- for JSON endpoints, a check that the body is JSON and not an HTML error page.

httpx errors never escape: they become :class:`SourceUnavailableError` or
:class:`SourceFormatError` with a safe message.

Redirects are followed here, not by httpx, at most :data:`MAX_REDIRECTS` hops, and only to the
host of the URL asked for or to a host on the source's allow-list (``redirect_hosts``); never
from https to http. A redirect anywhere else is refused with a :class:`SourceUnavailableError`
naming the host, so a compromised or misconfigured endpoint cannot point a poll at an internal
address (SSRF) or at a look-alike host. On a hop to another (allowed) host the caller's own
headers (API keys) are dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from jobs.sources.base import SourceFormatError, SourceTooLargeError, SourceUnavailableError

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
"""Default response size cap (decoded bytes). Epoch's zip is a few MB; 50 MB is generous."""

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

MAX_REDIRECTS = 5
"""Most redirect hops one GET follows."""

DEFAULT_REDIRECT_HOSTS: Mapping[str, tuple[str, ...]] = {
    # Each source's own organisation's hosts (a leading dot: the domain and its subdomains),
    # where its downloads are known or likely to be served from (Hugging Face serves files
    # from cdn-lfs.huggingface.co and *.hf.co; GitHub from *.githubusercontent.com). Nothing
    # outside the organisation: a redirect there is refused and shown in /sources.
    "epoch": (".epoch.ai",),
    "huggingface": (".huggingface.co", ".hf.co"),
    "open_llm_leaderboard": (".huggingface.co", ".hf.co"),
    "evalplus": (".github.io",),
    "lmarena": (".githubusercontent.com", ".lmarena.ai"),
    "llm_stats": (".github.com", ".githubusercontent.com"),
    "models_dev": (".models.dev",),
    "openrouter": (".openrouter.ai",),
    "artificial_analysis": (".artificialanalysis.ai",),
}
"""Hosts each source's redirects may go to besides the asked host (``SourceClient`` adds
its ``redirect_hosts`` argument to these)."""

Expect = Literal["json", "text", "bytes"]
Params = Mapping[str, Any] | Sequence[tuple[str, Any]] | None


def _version() -> str:
    try:
        return package_version("gapwatch")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


USER_AGENT = f"gapwatch/{_version()} (+https://github.com/gapwatch/gapwatch)"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Attributes:
        attempts: Total tries (first request included).
        base_delay: First backoff in seconds; doubles each retry.
        max_delay: Cap on one backoff.
        jitter: Upper bound of the uniform random seconds added to each backoff.
        max_retry_after: Longest ``Retry-After`` we wait inside one poll; a server asking for
            more gets a :class:`SourceUnavailableError` carrying ``retry_after`` instead, so the
            scheduler (not this coroutine) waits.
    """

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 1.0
    max_retry_after: float = 120.0

    def backoff(self, attempt: int, rand: float) -> float:
        """Delay before retry number ``attempt`` (1-based), ``rand`` in [0, 1)."""
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) + self.jitter * rand


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date, RFC 9110).

    Returns:
        Non-negative seconds, or ``None`` when absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_LINK_RE = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


def parse_link_header(value: str | None) -> dict[str, str]:
    """Parse an RFC 8288 ``Link`` header into ``{rel: url}``."""
    links: dict[str, str] = {}
    if not value:
        return links
    for match in _LINK_RE.finditer(value):
        url, params = match.group(1), match.group(2)
        for param in params.split(";"):
            name, _, raw = param.strip().partition("=")
            if name.strip().lower() == "rel":
                for rel in raw.strip().strip('"').split():
                    links.setdefault(rel.lower(), url)
    return links


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A completed GET: status, body and the validators to store."""

    url: str
    status: int
    content: bytes
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    not_modified: bool = False

    @property
    def etag(self) -> str | None:
        """The response's ETag, if any."""
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        """The response's Last-Modified, if any."""
        return self.headers.get("last-modified")

    @property
    def links(self) -> dict[str, str]:
        """The ``Link`` header as ``{rel: url}``."""
        return parse_link_header(self.headers.get("link"))

    def json(self, *, source: str | None = None) -> Any:
        """Decode the body as JSON.

        Raises:
            SourceFormatError: HTML instead of JSON, or invalid/truncated JSON.
        """
        return decode_json(self.content, self.headers.get("content-type"), source=source)


def json_document(payload: bytes | str | Any, *, source: str) -> Any:
    """A parser's input as Python: bytes or text are decoded (``decode_json``); an already
    decoded document (tests, callers holding a dict) passes through unchanged."""
    if isinstance(payload, str):
        payload = payload.encode()
    if isinstance(payload, bytes):
        return decode_json(payload, source=source)
    return payload


def json_data_list(payload: bytes | str | Any, *, source: str) -> list[Any]:
    """The ``data`` list of a ``{"data": [...]}`` document (OpenRouter, Artificial Analysis).

    Raises:
        SourceFormatError: Not JSON, or no ``data`` list.
    """
    document = json_document(payload, source=source)
    if not isinstance(document, Mapping) or not isinstance(document.get("data"), list):
        raise SourceFormatError("response has no 'data' list", source=source)
    return document["data"]


def decode_json(
    content: bytes, content_type: str | None = None, *, source: str | None = None
) -> Any:
    """Decode JSON, telling an HTML error page or a truncated body apart from data.

    Raises:
        SourceFormatError: With a safe message (no payload excerpt beyond a position).
    """
    head = content[:512].lstrip().lower()
    if (content_type and "html" in content_type.lower()) or head.startswith(
        (b"<!doctype", b"<html")
    ):
        raise SourceFormatError("expected JSON but got an HTML page", source=source)
    if not content.strip():
        raise SourceFormatError("expected JSON but got an empty body", source=source)
    try:
        return json.loads(content)
    except UnicodeDecodeError as exc:
        raise SourceFormatError("JSON body is not valid UTF-8", source=source) from exc
    except json.JSONDecodeError as exc:
        what = "truncated" if exc.pos >= len(content.rstrip()) - 1 else "invalid"
        raise SourceFormatError(
            f"{what} JSON ({exc.msg} at char {exc.pos} of {len(content)})", source=source
        ) from exc


class _Retry(Exception):
    """Internal: this attempt failed in a retryable way."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def _safe_url(url: str | httpx.URL) -> str:
    """Scheme, host and path only: query strings may carry tokens."""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _host_allowed(host: str, allowed: Collection[str]) -> bool:
    """``host`` is in ``allowed``; an entry starting with a dot (``.hf.co``) allows its
    subdomains."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().rstrip(".")
        if host == entry.lstrip(".") or (entry.startswith(".") and host.endswith(entry)):
            return True
    return False


def check_redirect(
    origin: httpx.URL, target: httpx.URL, allowed: Collection[str], *, source: str | None
) -> None:
    """Refuse a redirect from ``origin`` (the URL first asked for) to ``target``.

    Allowed: http(s) targets on the origin's host or on a host in ``allowed``; never a
    downgrade from https to http.

    Raises:
        SourceUnavailableError: With a message naming the refused host.
    """
    if target.scheme not in ("http", "https"):
        raise SourceUnavailableError(
            f"redirect to a {target.scheme or 'relative'}: URL refused", source=source
        )
    if origin.scheme == "https" and target.scheme == "http":
        raise SourceUnavailableError(
            f"redirect from https to plain http ({target.host}) refused", source=source
        )
    if target.host != origin.host and not _host_allowed(target.host, allowed):
        raise SourceUnavailableError(
            f"redirect from {origin.host} to {target.host} refused: not the source's host or "
            "an allowed redirect host",
            source=source,
        )


class SourceClient:
    """One long-lived HTTP client for all sources (build it once, in the entry point).

    Args:
        timeout: httpx timeouts (connect/read/write/pool).
        limits: Connection pool limits.
        retry: Retry policy.
        max_bytes: Default response size cap in decoded bytes.
        total_timeout: Deadline in seconds for one attempt, body included.
        sleep: Awaitable sleep, injectable so tests do not wait.
        rand: Source of jitter in [0, 1), injectable for deterministic tests.
        user_agent: ``User-Agent`` header.
        transport: Optional httpx transport (tests, proxies).
        redirect_hosts: Per source key, further hosts its redirects may go to (a leading dot
            allows subdomains); by default a source may redirect only within its own host.
    """

    def __init__(
        self,
        *,
        timeout: httpx.Timeout | None = None,
        limits: httpx.Limits | None = None,
        retry: RetryPolicy | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        total_timeout: float = 300.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        user_agent: str = USER_AGENT,
        transport: httpx.AsyncBaseTransport | None = None,
        redirect_hosts: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.redirect_hosts = {
            key: tuple(hosts)
            for key, hosts in {**DEFAULT_REDIRECT_HOSTS, **(redirect_hosts or {})}.items()
        }
        self.max_bytes = max_bytes
        self.total_timeout = total_timeout
        self._sleep = sleep
        self._rand = rand
        self._client = httpx.AsyncClient(
            timeout=timeout or httpx.Timeout(30.0, connect=10.0),
            limits=limits or httpx.Limits(max_connections=10, max_keepalive_connections=5),
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=False,  # followed in _attempt, host by host (see the module doc)
            transport=transport,
        )

    async def __aenter__(self) -> SourceClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        source: str | None = None,
        params: Params = None,
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        expect: Expect = "bytes",
        max_bytes: int | None = None,
        redirect_hosts: Iterable[str] = (),
    ) -> FetchResult:
        """GET ``url`` with retries, a size cap and optional conditional headers.

        Args:
            url: Absolute URL.
            source: Source key, for messages and logs.
            params: Query parameters (a list of pairs allows repeated keys like ``expand[]``).
            headers: Extra headers (API keys belong here, never in the URL).
            etag: Send ``If-None-Match`` with this value.
            last_modified: Send ``If-Modified-Since`` with this value.
            expect: ``"json"`` rejects an HTML page or a non-JSON body right here.
            max_bytes: Size cap for this request (defaults to the client's).
            redirect_hosts: Hosts a redirect may go to besides ``url``'s own host, in addition
                to the client's ``redirect_hosts`` for ``source``.

        Returns:
            The result; ``not_modified`` is true on 304 (and ``content`` is empty).

        Raises:
            SourceUnavailableError: Network failure, timeouts, 4xx, 5xx/429 after all retries,
                a refused redirect or more than :data:`MAX_REDIRECTS` of them.
            SourceTooLargeError: Body larger than the cap.
            SourceFormatError: ``expect="json"`` and the body is HTML or not JSON.
        """
        request_headers = dict(headers or {})
        if etag:
            request_headers["If-None-Match"] = etag
        if last_modified:
            request_headers["If-Modified-Since"] = last_modified
        if expect == "json":
            request_headers.setdefault("Accept", "application/json")
        cap = max_bytes or self.max_bytes
        shown = _safe_url(url)
        allowed = (*self.redirect_hosts.get(source or "", ()), *redirect_hosts)
        own_headers = frozenset(name.lower() for name in headers or {})
        last: _Retry | None = None
        for attempt in range(1, self.retry.attempts + 1):
            try:
                async with asyncio.timeout(self.total_timeout):
                    result = await self._attempt(
                        url, params, request_headers, cap, source, allowed, own_headers
                    )
            except _Retry as exc:
                last = exc
            except TimeoutError:
                last = _Retry(f"no complete response within {self.total_timeout:g} s")
            else:
                if expect == "json" and not result.not_modified:
                    result.json(source=source)  # validate early; adapters decode again cheaply
                return result
            if last.retry_after is not None and last.retry_after > self.retry.max_retry_after:
                raise SourceUnavailableError(
                    f"{last.reason}; server asks to retry after {last.retry_after:.0f} s",
                    source=source,
                    status=last.status,
                    retry_after=last.retry_after,
                )
            if attempt == self.retry.attempts:
                break
            delay = (
                last.retry_after
                if last.retry_after is not None
                else self.retry.backoff(attempt, self._rand())
            )
            # Retries are routine; the poller logs a failing source once, at WARNING.
            log.info(
                "%s: GET %s failed (%s); retry %d/%d in %.1f s",
                source or "http",
                shown,
                last.reason,
                attempt,
                self.retry.attempts - 1,
                delay,
            )
            await self._sleep(delay)
        assert last is not None
        raise SourceUnavailableError(
            f"{last.reason} after {self.retry.attempts} attempts",
            source=source,
            status=last.status,
            retry_after=last.retry_after,
        )

    async def _attempt(
        self,
        url: str,
        params: Params,
        headers: dict[str, str],
        cap: int,
        source: str | None,
        allowed: Collection[str] = (),
        own_headers: Collection[str] = (),
    ) -> FetchResult:
        try:
            request = self._client.build_request("GET", url, params=params, headers=headers)
            origin = request.url
            for _hop in range(MAX_REDIRECTS + 1):
                response = await self._client.send(request, stream=True)
                try:
                    redirect = response.next_request  # set by httpx for a 3xx with Location
                    if redirect is None:
                        return await self._read(response, cap, source)
                finally:
                    await response.aclose()
                check_redirect(origin, redirect.url, allowed, source=source)
                if redirect.url.host != request.url.host:
                    for name in own_headers:  # API keys stay with the host they were meant for
                        redirect.headers.pop(name, None)
                log.debug("%s: redirected to %s", source or "http", _safe_url(redirect.url))
                request = redirect
            raise SourceUnavailableError(
                f"more than {MAX_REDIRECTS} redirects from {_safe_url(origin)}", source=source
            )
        except httpx.TimeoutException as exc:
            raise _Retry(f"timeout ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:  # connect errors, resets, protocol errors
            raise _Retry(f"network error ({type(exc).__name__})") from exc
        except httpx.DecodingError as exc:
            raise SourceFormatError("response body could not be decoded", source=source) from exc
        except httpx.InvalidURL as exc:
            raise SourceUnavailableError("invalid URL", source=source) from exc
        except httpx.HTTPError as exc:
            raise SourceUnavailableError(
                f"HTTP error ({type(exc).__name__})", source=source
            ) from exc

    async def _read(self, response: httpx.Response, cap: int, source: str | None) -> FetchResult:
        """A final (non-redirect) response as a result, or the error its status means."""
        status = response.status_code
        if status == 304:
            return FetchResult(str(response.url), status, b"", response.headers, True)
        if status in RETRYABLE_STATUS:
            raise _Retry(
                f"HTTP {status}",
                status=status,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if status >= 400:
            raise SourceUnavailableError(
                f"HTTP {status} from {_safe_url(response.url)}",
                source=source,
                status=status,
            )
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise SourceTooLargeError(
                f"response of {int(declared)} bytes exceeds the {cap} byte cap",
                source=source,
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise SourceTooLargeError(f"response exceeds the {cap} byte cap", source=source)
            chunks.append(chunk)
        return FetchResult(str(response.url), status, b"".join(chunks), response.headers)
