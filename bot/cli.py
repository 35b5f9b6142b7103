"""What the command-line tools share: an argument parser whose errors are one line, and the one-line error
format (``error: ...`` on stderr, or one JSON object on stdout with ``--json``). Imports nothing but the
standard library, so every CLI stays fast."""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn


class UsageError(Exception):
    """A malformed command line; the message is one line."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        raise UsageError(message)


def error_line(key: str, message: str, *, as_json: bool) -> str:
    """``{"error": key, "message": message}`` for --json, else ``error: key: message`` (``error: message`` for a
    usage error)."""
    if as_json:
        return json.dumps({"error": key, "message": message}, ensure_ascii=False)
    return f"error: {message}" if key == "usage" else f"error: {key}: {message}"


def report(key: str, message: str, argv: list[str]) -> int:
    """Print the error as one line where the caller looks for it (stdout with --json) and return status 2."""
    as_json = "--json" in argv
    print(error_line(key, message, as_json=as_json), file=sys.stdout if as_json else sys.stderr)
    return 2
