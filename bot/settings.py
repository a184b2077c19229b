"""Configuration from the environment (and an optional ``.env``), validated once at start.

Only the entry point builds ``Settings`` and hands plain values down; no module reads the
environment on import.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from db.engine import DatabaseURLError, parse_database_url

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "your-token-here", "token", "xxx"}


class SettingsError(ValueError):
    """The configuration cannot work; the message says which setting and why."""


class Settings(BaseSettings):
    """Every setting gapwatch reads; `.env.example` documents each one."""

    # env_ignore_empty: a line left empty in .env (as in .env.example) means "not set",
    # rather than an empty string that an int, list or dict setting cannot parse.
    model_config = SettingsConfigDict(
        env_prefix="GAPWATCH_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,
    )

    discord_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_TOKEN", "GAPWATCH_DISCORD_TOKEN")
    )
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "GAPWATCH_DATABASE_URL")
    )
    data_dir: Path = Path("data")
    dev_guild_id: int | None = None
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    # discord.py's AutoShardedBot with this many shards in all; shard_ids (JSON list): the ones
    # this process runs (default: all of them), so N processes can each run a part.
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: list[int] | None = None

    default_gap_threshold: float = Field(default=2.0, gt=0, le=100)
    default_hysteresis: float = Field(default=0.25, ge=0, le=10)
    default_vram_gib: float = Field(default=24.0, gt=0, le=4096)
    default_context: int = Field(default=8192, ge=1)

    poll_enabled: bool = True
    poll_interval_minutes: int = Field(default=360, ge=5)
    poll_jitter_seconds: int = Field(default=300, ge=0)
    hf_organizations: list[str] = Field(
        default_factory=lambda: [
            "meta-llama",
            "deepseek-ai",
            "Qwen",
            "mistralai",
            "google",
            "microsoft",
        ]
    )
    artificial_analysis_api_key: SecretStr | None = None
    # Source key -> URL replacing the source's default (a mirror, or a local test server);
    # JSON in the environment: GAPWATCH_SOURCE_BASE_URLS='{"epoch": "http://…/data.zip"}'.
    source_base_urls: dict[str, str] = Field(default_factory=dict)
    # Source keys to poll (JSON list); None: the default set of jobs.sources.SourcesConfig.
    sources_enabled: list[str] | None = None

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False
    # Local port for /healthz and Prometheus /metrics; None (the default): not served.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"

    @field_validator("discord_token", "artificial_analysis_api_key")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value().strip()
        if secret.lower() in PLACEHOLDER_SECRETS:
            if secret == "":
                return None
            raise ValueError("is a placeholder; set the real secret or leave it unset")
        return SecretStr(secret)

    @field_validator("database_url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            parse_database_url(value.strip())
        except DatabaseURLError as exc:
            raise ValueError(str(exc)) from None
        return value.strip()

    @model_validator(mode="after")
    def _shards(self) -> Settings:
        if self.shard_ids is None:
            return self
        if self.shard_count is None:
            raise ValueError("GAPWATCH_SHARD_IDS needs GAPWATCH_SHARD_COUNT (the total)")
        bad = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
        if not self.shard_ids or bad or len(set(self.shard_ids)) != len(self.shard_ids):
            raise ValueError(
                f"GAPWATCH_SHARD_IDS must list distinct shard ids from 0 to {self.shard_count - 1}"
            )
        return self

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'gapwatch.db').as_posix()}"
        return self

    @property
    def db_url(self) -> str:
        """The database URL in force (the SQLite file under ``data_dir`` by default)."""
        assert self.database_url is not None
        return self.database_url


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning validation errors into one readable ``SettingsError``."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError as UnparsableError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except UnparsableError as exc:
        # A list or dict setting whose environment value is not JSON; name the variable.
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"GAPWATCH_{field.group(1).upper()}" if field else "a setting"
        raise SettingsError(f"invalid configuration — {name}: not valid JSON") from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            problems.append(f"{where.upper()}: {error['msg'].removeprefix('Value error, ')}")
        raise SettingsError("invalid configuration — " + "; ".join(problems)) from None
