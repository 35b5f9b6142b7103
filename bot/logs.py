"""No personal data in any log, at any level, third-party loggers included.

What people type (names, IINs, addresses, phones, complaint texts) lives in the database and in Telegram,
never in a log. Our own log lines carry ids, counts and error types only; this module covers what we do not
write ourselves:

* ``aiosqlite`` logs every statement WITH its parameters at DEBUG ("executing functools.partial(...,
  'INSERT ...', ('Иванова', '061211600012', ...))"): those records are dropped, whatever level the logger or
  the root is set to (its warnings and errors pass; they carry no parameters);
* an exception's message may quote the input that caused it (pydantic's ``input_value=...``, a database
  error with a value): in every record, an exception passed as an argument is reduced to its type, and a
  traceback keeps its frames and the exception's type, not its message. Telegram's own error descriptions
  (``TelegramAPIError``) are kept: they never quote what the person wrote and they say what went wrong.

:func:`protect_personal_data` installs both; it is idempotent and called by the app factory, so every run
mode (polling, console, tests) has it before the first update.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

__all__ = ["log_formatter", "protect_personal_data"]

_installed = False


class _DropDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def _safe_exception(exc: BaseException) -> Any:
    from aiogram.exceptions import TelegramAPIError

    if isinstance(exc, TelegramAPIError):
        return exc  # Telegram's description of what it refused
    return type(exc).__name__


def _sanitize(record: logging.LogRecord) -> logging.LogRecord:
    if isinstance(record.msg, BaseException):
        record.msg = _safe_exception(record.msg)
    args = record.args
    if isinstance(args, tuple) and any(isinstance(a, BaseException) for a in args):
        record.args = tuple(_safe_exception(a) if isinstance(a, BaseException) else a for a in args)
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        safe = _safe_exception(exc)
        head = "Traceback (most recent call last):\n"
        frames = "".join(traceback.format_tb(exc.__traceback__))
        record.exc_text = head + frames + (f"{type(exc).__name__}: {exc}" if safe is exc else safe)
        record.exc_info = None
    return record


def protect_personal_data() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    logging.getLogger("aiosqlite").addFilter(_DropDebug())
    factory = logging.getLogRecordFactory()

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _sanitize(factory(*args, **kwargs))

    logging.setLogRecordFactory(make_record)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_formatter(fmt: str = "text") -> logging.Formatter:
    """LOG_FORMAT: ``text`` (one readable line), or ``json``: one JSON object a line (python-json-logger, a
    plain logging.Formatter: every library's records come out the same, and this module's filtering, done
    when a record is made, applies to both)."""
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", json_ensure_ascii=False)
    return logging.Formatter(TEXT_FORMAT)
