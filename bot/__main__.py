"""Entry point: `python -m bot [deadline|workdays|faq] ...`, or with no subcommand the bot itself.

The checking subcommands are pure domain code and never import aiogram (importing it costs seconds).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else "run"
    if command in ("deadline", "workdays"):
        from bot.legal_cli import main as legal_main

        return legal_main(argv)
    if command == "faq":
        from bot.faq_cli import main as faq_main

        return faq_main(argv[1:])
    if command in ("run", "console"):
        from bot.run import main as run_main

        return run_main(argv[1:] if argv else [], force_console=command == "console")
    print(f"unknown command: {command}\nusage: python -m bot [run|console|deadline|workdays|faq] ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
