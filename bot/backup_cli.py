"""``python -m bot backup PATH`` and ``python -m bot restore PATH`` (storage/backup.py says how).

The database is DATABASE_PATH (environment or .env). Success: one line (one JSON object with ``--json``) with
the file, its size and the row count of every table. Errors: one line, exit status 2 (bot/cli.py), e.g.
``error: bot_running: the bot is running on this database (pid 4242, ...): stop it, then restore``.
"""

from __future__ import annotations

import json

from bot.cli import Parser, UsageError, report

USAGE = {
    "backup": "a consistent copy of the live database at PATH, verified (integrity check, row counts); safe "
              "while the bot runs",
    "restore": "put the backup PATH in place of the database (DATABASE_PATH); the bot must be stopped; the "
               "database it replaces is kept as DATABASE_PATH.pre-restore",
}


def _parser(command: str) -> Parser:
    parser = Parser(prog=f"python -m bot {command}", description=USAGE[command])
    parser.add_argument("path", metavar="PATH")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    return parser


def main(argv: list[str]) -> int:
    command, rest = argv[0], argv[1:]
    try:
        args = _parser(command).parse_args(rest)
    except UsageError as exc:
        return report("usage", str(exc), argv)
    from bot.config import ConfigError, load_settings
    from storage.backup import BackupError, backup, restore

    try:
        database = load_settings().database_path
        if command == "backup":
            done = backup(database, args.path)
        else:
            done = restore(args.path, database)
    except ConfigError as exc:
        return report("config", str(exc), argv)
    except BackupError as exc:
        return report(exc.key, str(exc), argv)
    except OSError as exc:
        return report("io", f"{exc.strerror or exc} ({exc.filename or args.path})", argv)
    rows = sum(done.rows.values())
    if args.json:
        print(json.dumps({"ok": True, "command": command, "path": str(done.path), "bytes": done.bytes,
                          "seconds": round(done.seconds, 3), "integrity": "ok", "rows": done.rows}))
    else:
        tables = ", ".join(f"{t} {n}" for t, n in done.rows.items() if n)
        what = "backup" if command == "backup" else "restored"
        print(f"{what}: {done.path} ({done.bytes} bytes, {done.seconds:.2f} s); integrity ok; {rows} rows: {tables}")
    return 0
