"""Entry point: `python -m bot [run|console|deadline|workdays|faq] ...` (`python -m bot --help` lists them).

The checking subcommands are pure domain code and never import aiogram (importing it costs seconds).
Every error is one line on stderr and exit status 2 (one JSON object on stdout with ``--json``).
"""

from __future__ import annotations

import sys

USAGE = """\
usage: python -m bot [COMMAND] [OPTIONS]

commands:
  run        the bot: a webhook server with WEBHOOK_URL, long polling when BOT_TOKEN is set, else the console
             mode (the default command)
  console    the bot in this terminal (or a pipe), whatever BOT_TOKEN says
  set-webhook     register WEBHOOK_URL with Telegram, once for all instances (delete-webhook: back to polling)
  deadline   the legal deadlines of one complaint (python -m bot deadline --help)
  workdays   a year's Kazakh working-day calendar (python -m bot workdays --help)
  faq        search the questions and answers (python -m bot faq --help)
  backup     a verified copy of the live database: python -m bot backup PATH (safe while the bot runs)
  restore    put a backup in place of the database: python -m bot restore PATH (the bot stopped)

Settings come from environment variables or .env; every key is documented in .env.example.
"""

RUN_USAGE = """\
usage: python -m bot [run|console]

run: a webhook server with WEBHOOK_URL (listening on WEBHOOK_LISTEN), long polling with BOT_TOKEN (through
TELEGRAM_API_BASE when set), else the console mode.
console: the same bot in this terminal: buttons are pressed with /1, /2, ...; Ctrl-D ends.
State (conversations, drafts, complaints) is kept in DATABASE_PATH (default data/shagym.sqlite3);
the console saves documents in the folder "console" next to it and logs to console.log there.
Settings come from environment variables or .env; every key is documented in .env.example.
"""

HELP_FLAGS = ("-h", "--help", "help")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else "run"
    if command in HELP_FLAGS:
        print(USAGE, end="")
        return 0
    if command in ("deadline", "workdays"):
        from bot.legal_cli import main as legal_main

        return legal_main(argv)
    if command in ("set-webhook", "delete-webhook"):
        from bot.webhook import cli

        return cli(command, argv[1:])
    if command == "faq":
        from bot.faq_cli import main as faq_main

        return faq_main(argv[1:])
    if command in ("backup", "restore"):
        from bot.backup_cli import main as backup_main

        return backup_main(argv)
    if command in ("run", "console"):
        if any(arg in HELP_FLAGS for arg in argv[1:]):
            print(RUN_USAGE, end="")
            return 0
        if argv[1:]:
            print(f"error: {command} takes no arguments (got {' '.join(argv[1:])!r}); settings come from the "
                  "environment or .env", file=sys.stderr)
            return 2
        from bot.run import main as run_main

        return run_main(argv[1:], force_console=command == "console")
    print(f"error: unknown command {command!r} (python -m bot --help lists the commands)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
