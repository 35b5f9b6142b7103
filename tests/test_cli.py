"""`python -m bot` as a command line: --help lists the commands, and every error is one line (one JSON object
with --json), never a traceback. Subprocess runs of the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "OPERATORS", "DATABASE"))}
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=base, input=stdin,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_help_lists_the_commands(flag: str) -> None:
    proc = run(flag)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    for command in ("run", "console", "deadline", "workdays", "faq"):
        assert f"\n  {command} " in proc.stdout, proc.stdout
    assert ".env.example" in proc.stdout


def test_help_of_a_subcommand() -> None:
    proc = run("deadline", "--help")
    assert proc.returncode == 0 and "--recipient" in proc.stdout and "--json" in proc.stdout
    proc = run("console", "--help")
    assert proc.returncode == 0 and "BOT_TOKEN" in proc.stdout and "DATABASE_PATH" in proc.stdout


def test_unknown_command_is_one_line() -> None:
    proc = run("--hlep")
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--hlep" in lines[0] and "--help" in lines[0], proc.stderr


@pytest.mark.parametrize(
    ("args", "key", "words"),
    [
        (["deadline", "--recipient", "provider", "--registered", "2026-12-14", "--extended-by", "11"],
         "extension_out_of_range", "1 to 10"),
        (["deadline", "--recipient", "provider", "--registered", "2026-12-14", "--extended-on", "2026-12-20"],
         "extended_on_without_extension", "--extended-by"),
        (["deadline", "--recipient", "provider"], "usage", "--registered or --submitted"),
        (["deadline", "--recipient", "court", "--registered", "2026-12-14"], "usage", "invalid choice"),
        (["deadline", "--recipient", "provider", "--registered", "14.12.2026"], "usage", "bad date"),
        (["workdays", "20x6"], "usage", "bad year"),
        (["faq", "--limit", "x", "справка"], "usage", "invalid int value"),
        (["faq", "--faq", "/nonexistent/faq.json", "справка"], "faq_file", "/nonexistent/faq.json"),
    ],
)
def test_errors_with_json_are_one_json_line(args: list[str], key: str, words: str) -> None:
    proc = run(*args, "--json")
    assert proc.returncode == 2, proc
    assert proc.stderr == ""
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    error = json.loads(lines[0])
    assert error["error"] == key and words in error["message"], error
    # The same error without --json: one readable line on stderr, nothing on stdout.
    proc = run(*args)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], proc.stderr


def test_faq_usage_errors_are_one_line() -> None:
    proc = run("faq")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"DATABASE_PATH": "/proc/nope/db.sqlite3"}, "DATABASE_PATH"),
        ({"DATABASE_PATH": "{tmp}"}, "DATABASE_PATH"),  # a directory, not a file
        ({"DATABASE_PATH": "{tmp}/junk.sqlite3"}, "DATABASE_PATH"),  # not a database
        ({"BOT_TOKEN": "not-a-token", "DATABASE_PATH": "{tmp}/db.sqlite3"}, "BOT_TOKEN"),
    ],
)
def test_a_bad_setting_stops_the_bot_with_one_line_naming_the_key(tmp_path, env: dict, key: str) -> None:
    (tmp_path / "junk.sqlite3").write_text("this is not SQLite")
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    env.setdefault("BOT_TOKEN", "")
    for command in ((), ("console",)):
        proc = run(*command, env=env)
        assert proc.returncode == 2, proc
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and key in lines[0] and "Traceback" not in proc.stderr, proc.stderr
        assert "not-a-token" not in proc.stderr  # a secret is never echoed
