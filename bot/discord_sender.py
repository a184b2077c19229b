"""The Discord ``Sender``: posts alert messages through the running bot.

Each message carries its delivery's stable nonce; discord.py sends it with ``enforce_nonce``,
so Discord answers a resend (after a lost response, a crash, a reclaim) with the message it
already created. discord.py itself retries 429s (sleeping ``retry_after``) and 500/502/504/524 a
few times; what still fails comes back here and is mapped to an outcome the dispatcher
understands: retry later (429, 5xx, network), or dead (the channel or user is gone or closed to
the bot, or the message itself is invalid).

A server's admins (``admins`` targets: "your alert channel is gone") are told in the server's
system channel when it has one other than the lost channel, else by DM to the server's owner.
"""

from __future__ import annotations

import logging

import aiohttp
import discord

from bot.alert_embeds import alert_message
from jobs.delivery import Outgoing, SendOutcome

log = logging.getLogger(__name__)

# Discord JSON error codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MESSAGE = 10008  # a nonce repeat whose first message was deleted: it was delivered
UNKNOWN_USER = 10013
MISSING_ACCESS = 50001
CANNOT_DM = 50007
MISSING_PERMISSIONS = 50013

# A 429 that discord.py did not absorb (a Cloudflare block without ``Via``): back off long.
CLOUDFLARE_BACKOFF_SECONDS = 600.0


class DiscordSender:
    """Sends ``Outgoing`` messages with the bot's HTTP client.

    Args:
        bot: A logged-in client (the gateway need not be connected).
    """

    def __init__(self, bot: discord.Client) -> None:
        self.bot = bot

    async def send(self, message: Outgoing) -> SendOutcome:
        rendered = alert_message(message)
        try:
            channel = await self._channel(message)
            if channel is None:
                return SendOutcome.dead("no channel to tell this server's admins")
            sent = await channel.send(
                content=rendered.content,
                embed=rendered.embed,
                files=rendered.files,
                allowed_mentions=rendered.allowed_mentions,
                nonce=message.nonce,
            )
        except discord.RateLimited as exc:
            return SendOutcome.retry("rate limited", retry_after=exc.retry_after)
        except discord.NotFound as exc:
            if exc.code == UNKNOWN_MESSAGE:
                return SendOutcome.sent(None)
            return SendOutcome.dead(_describe(exc))
        except discord.Forbidden as exc:
            return SendOutcome.dead(_describe(exc))
        except discord.DiscordServerError as exc:
            return SendOutcome.retry(_describe(exc))
        except discord.HTTPException as exc:
            if exc.status == 429:
                return SendOutcome.retry(_describe(exc), CLOUDFLARE_BACKOFF_SECONDS)
            # 400: the message itself is invalid; resending it cannot help.
            log.error("Discord refused an alert message: %s", _describe(exc))
            return SendOutcome.dead(_describe(exc), disable_target=False)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return SendOutcome.retry(f"network: {type(exc).__name__}")
        return SendOutcome.sent(sent.id)

    async def _channel(self, message: Outgoing) -> discord.abc.Messageable | None:
        target = message.target
        if target.kind == "channel":
            return self.bot.get_partial_messageable(target.id)
        if target.kind == "user":
            return await self._dm(target.id)
        guild = self.bot.get_guild(target.id) or await self.bot.fetch_guild(target.id)
        lost = message.items[0].payload.get("channel_id")
        system = guild.system_channel
        if system is not None and system.id != lost:
            return system
        if guild.owner_id is None:
            return None
        return await self._dm(guild.owner_id)

    async def _dm(self, user_id: int) -> discord.DMChannel:
        user = self.bot.get_user(user_id) or await self.bot.fetch_user(user_id)
        return await user.create_dm()


def _describe(exc: discord.HTTPException) -> str:
    text = exc.text or exc.response.reason or ""
    return f"{exc.status} ({exc.code}) {text}".strip()[:300]
