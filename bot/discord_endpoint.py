"""Point discord.py at a different Discord API endpoint.

A deployment can route REST calls through a rate-limit proxy (twilight-http-proxy,
nirn-proxy) and connect to a gateway proxy; tests point the same two settings at a loopback
Discord emulator. discord.py keeps both as class attributes:

* ``discord.http.Route.BASE``: the REST base every ``Route`` joins its path to when it is
  *created* (webhook and interaction follow-ups reuse ``Route``, so one base covers them).
* ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``: the gateway a plain ``Client``
  connects to (an ``AutoShardedClient`` without ``shard_count`` asks ``GET /gateway/bot``
  instead, which the REST base already covers).

Because routes are built eagerly, configure the endpoint before the client is created.
"""

from __future__ import annotations

import logging

import yarl
from discord import http as discord_http
from discord.gateway import DiscordWebSocket
from discord.http import Route

log = logging.getLogger(__name__)

_REST_SCHEMES = frozenset({"http", "https"})
_GATEWAY_SCHEMES = frozenset({"ws", "wss"})


def configure_discord_endpoint(api_base: str | None, gateway_url: str | None) -> None:
    """Point discord.py's REST base and default gateway at other URLs.

    Call this before the ``discord.Client`` is created. With both arguments ``None`` nothing
    changes, so the default deployment talks to discord.com.

    Args:
        api_base: REST base URL, e.g. ``http://nirn-proxy:8080/api/v10``. When the URL has no
            ``/api/vN`` path, discord.py's API version path (``/api/v10``) is appended.
        gateway_url: Gateway websocket URL, e.g. ``wss://gateway-proxy:7878/``. discord.py adds
            the ``v``, ``encoding`` and ``compress`` query parameters itself.

    Raises:
        ValueError: If a URL is not absolute or has the wrong scheme.
    """
    if api_base is not None:
        Route.BASE = _rest_base(api_base)
        log.info("Discord REST base set to %s", Route.BASE)
    if gateway_url is not None:
        DiscordWebSocket.DEFAULT_GATEWAY = _gateway(gateway_url)
        log.info("Discord gateway set to %s", DiscordWebSocket.DEFAULT_GATEWAY)


def current_discord_endpoint() -> tuple[str, str]:
    """Return the REST base and gateway URL discord.py currently uses.

    Useful to restore the previous endpoint, e.g. after a test:
    ``configure_discord_endpoint(*saved)``.

    Returns:
        The pair ``(api_base, gateway_url)``.
    """
    return Route.BASE, str(DiscordWebSocket.DEFAULT_GATEWAY)


def _rest_base(api_base: str) -> str:
    url = yarl.URL(api_base.rstrip("/"))
    if url.scheme not in _REST_SCHEMES or not url.host:
        raise ValueError(f"api_base must be an absolute http(s) URL, got {api_base!r}")
    if "/api/v" not in url.path:
        url = url / "api" / f"v{discord_http.INTERNAL_API_VERSION}"
    return str(url)


def _gateway(gateway_url: str) -> yarl.URL:
    url = yarl.URL(gateway_url)
    if url.scheme not in _GATEWAY_SCHEMES or not url.host:
        raise ValueError(f"gateway_url must be an absolute ws(s) URL, got {gateway_url!r}")
    return url
