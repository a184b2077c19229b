"""Settings validation: bad values give one clear error; secrets are never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    for name in ("DISCORD_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_use_a_sqlite_file_under_the_data_folder() -> None:
    settings = load_settings()
    assert settings.db_url == "sqlite:///data/gapwatch.db"
    assert settings.discord_token is None
    assert settings.default_gap_threshold == 2.0
    assert settings.default_vram_gib == 24.0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/db", "supports SQLite and PostgreSQL"),
        ("definitely not a url", "is not a database URL"),
        ("postgresql+asyncpg://u@h/d", "gapwatch uses psycopg 3"),
    ],
)
def test_bad_database_url_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SettingsError, match=message) as info:
        load_settings()
    assert "DATABASE_URL" in str(info.value)


def test_placeholder_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "changeme")
    with pytest.raises(SettingsError, match="DISCORD_TOKEN: is a placeholder"):
        load_settings()


def test_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "MTIz.secret-token-value")
    settings = load_settings()
    assert "secret-token-value" not in repr(settings)
    assert settings.discord_token is not None


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GAPWATCH_DEFAULT_VRAM_GIB=12\nGAPWATCH_LOG_LEVEL=DEBUG\n")
    settings = load_settings()
    assert settings.default_vram_gib == 12
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GAPWATCH_DEFAULT_VRAM_GIB", "-4", "DEFAULT_VRAM_GIB"),
        ("GAPWATCH_DEFAULT_GAP_THRESHOLD", "abc", "DEFAULT_GAP_THRESHOLD"),
        ("GAPWATCH_LOG_LEVEL", "LOUD", "LOG_LEVEL"),
    ],
)
def test_out_of_range_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()
