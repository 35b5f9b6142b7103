"""Typed configuration from the environment and `.env` (every key is documented in .env.example)."""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
from datetime import time
from pathlib import Path
from typing import IO, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

from bot.domain.text import DEFAULT_LANGUAGE, Lang


class ConfigError(Exception):
    """A configuration value is wrong; the message is one line naming the key."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr = SecretStr("")
    telegram_api_base: str | None = None
    database_path: Path = Path("data/shagym.sqlite3")
    database_url: str = ""  # postgresql://...: PostgreSQL (asyncpg) instead of the SQLite file at DATABASE_PATH
    operators_chat_id: int | None = None
    operators_language: Lang = DEFAULT_LANGUAGE
    operator_ids: Annotated[tuple[int, ...], NoDecode] = ()
    default_language: Lang = DEFAULT_LANGUAGE
    timezone: str = "Asia/Almaty"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    quiet_hours_start: time = time(9, 0)
    quiet_hours_end: time = time(20, 0)
    reminder_interval_seconds: float = Field(default=30.0, gt=0)
    draft_ttl_days: int = Field(default=30, gt=0)
    # Scale-out (docs/deploy.md): Redis for conversation state, Telegram's limits and update de-duplication
    # shared by several instances; a webhook instead of long polling.
    redis_url: str | None = None
    redis_durability: Literal["strict", "relaxed"] = "strict"
    webhook_url: str | None = None
    webhook_secret: SecretStr = SecretStr("")
    webhook_listen: str = "127.0.0.1:8080"
    update_lease_seconds: float = Field(default=30.0, gt=0)
    #: How long a claimed reminder or erasure clean-up task stays with an instance that stopped renewing it.
    send_lease_seconds: float = Field(default=90.0, gt=0)
    #: Closed cases, answered tickets and complaints are erased this many days after they ended (issue 16).
    retention_days: int = Field(default=365, gt=0)
    #: "host:port" for the Prometheus metrics endpoint (/metrics); empty: no endpoint.
    metrics_listen: str | None = None
    log_format: Literal["text", "json"] = "text"

    @field_validator("database_url")
    @classmethod
    def _pg_url(cls, value: str) -> str:
        value = (value or "").strip()
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be empty (SQLite at DATABASE_PATH) or a postgresql:// URL")
        return value

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        left, sep, right = token.partition(":")
        if token and (not sep or not left.isdigit() or not right or any(c.isspace() for c in token)):
            raise ValueError("must look like 123456789:AAE... (the token @BotFather gave), or be empty for the "
                             "console mode")
        return value

    @field_validator("operators_chat_id", mode="before")
    @classmethod
    def _empty_chat_is_none(cls, value):
        return None if value in ("", None) else value

    @field_validator("telegram_api_base", mode="before")
    @classmethod
    def _base_url(cls, value):
        if value in ("", None):
            return None
        if not str(value).startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return str(value).rstrip("/")

    @field_validator("operator_ids", mode="before")
    @classmethod
    def _ids(cls, value):
        if value in ("", None):
            return ()
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(";", ",").split(",") if part.strip())
        return tuple(value)

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value):
        if value in ("", None):
            return None
        if not str(value).startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return str(value)

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _webhook_url(cls, value):
        if value in ("", None):
            return None
        parts = urlsplit(str(value))
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
            raise ValueError("must be an https:// URL Telegram can reach (http:// only for a loopback host)")
        return str(value)

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret and not _SECRET.fullmatch(secret):
            raise ValueError("must be 1 to 256 characters A-Z, a-z, 0-9, _ and - (what Telegram accepts)")
        return value

    @field_validator("webhook_listen")
    @classmethod
    def _webhook_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:8080")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("metrics_listen", mode="before")
    @classmethod
    def _listen(cls, value):
        if value in ("", None):
            return None
        host, sep, port = str(value).rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be host:port, e.g. 127.0.0.1:9090")
        return str(value)

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """(host, port) of METRICS_LISTEN, or None."""
        if not self.metrics_listen:
            return None
        host, _, port = self.metrics_listen.rpartition(":")
        return host.strip("[]"), int(port)

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value):
        return value.lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value):
        return value.upper() if isinstance(value, str) else value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def console_mode(self) -> bool:
        return not self.bot_token.get_secret_value()

    @property
    def webhook_mode(self) -> bool:
        return self.webhook_url is not None and not self.console_mode

    @property
    def webhook_path(self) -> str:
        """The path the webhook server answers on: WEBHOOK_URL's own (a proxy forwards it unchanged)."""
        return urlsplit(self.webhook_url or "").path or "/"

    @property
    def listen_host_port(self) -> tuple[str, int]:
        host, _, port = self.webhook_listen.rpartition(":")
        return host.strip("[]"), int(port)


_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


# Never echoed in an error (a URL may hold a password).
SECRETS = frozenset({"BOT_TOKEN", "WEBHOOK_SECRET", "REDIS_URL", "DATABASE_URL"})


def load_settings(**overrides) -> Settings:
    """Build settings; a wrong value raises ConfigError with one line naming the key."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]).upper() or "?"
        got = "" if key in SECRETS else f" (got {err.get('input')!r})"
        raise ConfigError(f"configuration error: {key}: {err['msg']}{got}") from None
    check_combinations(settings)
    return settings


def check_combinations(settings: Settings) -> None:
    """Keys that are right alone but wrong together; ConfigError names the key to set."""
    if settings.webhook_url and settings.console_mode:
        raise ConfigError("configuration error: BOT_TOKEN: required with WEBHOOK_URL (the console mode has no webhook)")
    if settings.webhook_url and not settings.webhook_secret.get_secret_value():
        raise ConfigError("configuration error: WEBHOOK_SECRET: required with WEBHOOK_URL (Telegram sends it with every "
                          "update; without it anyone who learns the URL could post updates)")


def scale_out_warning(settings: Settings) -> str | None:
    """A legitimate set-up worth one line at start: PostgreSQL with a webhook but no REDIS_URL runs well as ONE
    instance, but a second one would share neither the update de-duplication nor Telegram's limits (each
    instance keeps its own): duplicates and 429s. Not an error: one instance on PostgreSQL is fine."""
    if settings.database_url and settings.webhook_url and not settings.redis_url:
        return ("REDIS_URL is not set: update de-duplication and Telegram's rate limits are kept by this process "
                "alone; run one instance only, or set REDIS_URL before starting a second one")
    return None


def check_database_path(settings: Settings) -> None:
    """Before the bot starts: DATABASE_PATH's folder exists (created if need be) and the file, if there is one,
    is an SQLite database this process can open. Raises ConfigError (one line naming the key) instead of a
    traceback from deep inside the start-up."""
    if settings.database_url:
        return  # PostgreSQL: the file is not used
    path = Path(settings.database_path)

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"configuration error: DATABASE_PATH: {problem} (got {str(path)!r})")

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"cannot create the folder {str(path.parent)!r}: {exc.strerror or exc}") from None
    if path.exists() and not path.is_file():
        raise fail("this is not a file")
    try:
        with sqlite3.connect(path) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.close()
    except sqlite3.Error as exc:
        raise fail(f"cannot open it as an SQLite database: {exc}") from None


def claim_database_path(settings: Settings) -> IO[bytes] | None:
    """One process per SQLite file: an exclusive lock on ``<DATABASE_PATH>.instance.lock`` (``.lock`` is the
    backup's: shared by running bots, exclusive for a restore), held while the returned file
    stays open (the OS drops it when the process ends, however it ends). A second bot on the same file would
    send every reminder twice and fight over its writes: it stops here with one line naming the key. With
    DATABASE_URL the file is not used and nothing is claimed (None)."""
    if settings.database_url:
        return None
    path = Path(f"{settings.database_path}.instance.lock")
    handle = open(path, "a+b")  # held open for the life of the process
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(
            f"configuration error: DATABASE_PATH: another instance of the bot is using this database (got "
            f"{str(settings.database_path)!r}); one SQLite file serves one instance: several instances need "
            "DATABASE_URL (PostgreSQL) and REDIS_URL") from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n".encode())
    handle.flush()
    return handle
