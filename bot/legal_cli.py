"""Checking commands: ``python -m bot deadline ...`` and ``python -m bot workdays YEAR``.

Pure domain code: imports nothing from aiogram, prints keys and ISO dates only (no translated text).

    python -m bot deadline --recipient provider --registered 2026-12-14 [--extended-by 5]
        [--extended-on DATE] [--submitted "2026-12-14T19:30"] [--learned DATE] [--forwarded]
        [--answered DATE] [--json]
    python -m bot workdays 2026 [--json]

``--submitted`` is local Almaty time unless it carries an offset; when given, the registration day is
derived from it (APPK art. 64 p. 3) and takes the place of ``--registered``. ``--answered``: the day the
answer was received; ``court_until`` (one month, APPK art. 136) and ``further_complaint_until`` (3 months,
APPK art. 92) count from it, or from the missed review without it. Bad input: one line on stderr
(``error: KEY: message``), or with ``--json`` one line on stdout (``{"error": KEY, "message": ...}``); exit status 2.
KEY is ``usage`` for a malformed command line, else the engine's reason (``extension_out_of_range``, ...).
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime
from typing import Any

from bot.cli import Parser, UsageError, report
from bot.domain.deadlines import (
    ALMATY,
    DeadlineError,
    Recipient,
    compute,
    registration_date,
)
from bot.domain.workdays import default_calendar

#: The engine's reasons (DeadlineError.key) in words, for people reading the CLI's errors.
_REASONS = {
    "extension_out_of_range": "--extended-by must be 1 to 10 working days (got {detail})",
    "extended_on_without_extension": "--extended-on needs --extended-by (the number of working days)",
    "extended_before_registration": "--extended-on is before the registration day",
    "answered_before_registration": "--answered is before the registration day",
    "unknown_recipient": "unknown recipient {detail}",
    "submitted_at_naive": "--submitted needs a time zone",
}


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date {value!r} (want YYYY-MM-DD)") from None


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date-time {value!r} (want YYYY-MM-DDTHH:MM)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ALMATY)


def _year(value: str) -> int:
    try:
        year = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad year {value!r}") from None
    if not 1991 <= year <= 2100:
        raise argparse.ArgumentTypeError(f"year {year} out of range 1991-2100")
    return year


def _parser() -> Parser:
    parser = Parser(prog="python -m bot", description="Shagym legal checks (keys and ISO dates).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    dl = sub.add_parser("deadline", help="deadlines of one complaint")
    dl.add_argument("--recipient", required=True, choices=[r.value for r in Recipient])
    dl.add_argument("--registered", type=_day, help="registration day")
    dl.add_argument("--submitted", type=_moment, help="arrival date-time (Almaty time unless an offset is given)")
    dl.add_argument("--extended-by", type=int, default=0, help="extension in working days (1-10)")
    dl.add_argument("--extended-on", type=_day, help="day of the extension (default: original due date)")
    dl.add_argument("--learned", type=_day, help="day the person learned of the decision (3-month limit)")
    dl.add_argument("--forwarded", action="store_true", help="filed via the provider, which forwards it")
    dl.add_argument("--answered", type=_day, help="day the answer was received (court: 1 month, complaint: 3)")
    dl.add_argument("--json", action="store_true")

    wd = sub.add_parser("workdays", help="a year's non-working weekdays and working weekend days")
    wd.add_argument("year", type=_year)
    wd.add_argument("--json", action="store_true")
    return parser


def _deadline(args: argparse.Namespace) -> dict[str, Any]:
    cal = default_calendar()
    if args.submitted is None and args.registered is None:
        raise UsageError("one of --registered or --submitted is required")
    registered = args.registered
    filed_on = None
    if args.submitted is not None:
        registered = registration_date(args.submitted, cal)
        filed_on = args.submitted.astimezone(ALMATY).date()  # the day it was handed in counts for the limit
    result = compute(
        args.recipient,
        registered,
        cal,
        extended_by=args.extended_by,
        extended_on=args.extended_on,
        forwarded_via_provider=args.forwarded,
        learned_on=args.learned,
        answered_on=args.answered,
        filed_on=filed_on,
    ).to_dict()
    if args.submitted is not None:
        result["submitted_at"] = args.submitted.isoformat()
        if args.registered is not None and args.registered != registered:
            result["registered_given"] = args.registered.isoformat()
    return result


def _workdays(args: argparse.Namespace) -> dict[str, Any]:
    cal = default_calendar()
    year = args.year

    def rows(pairs: list[tuple[date, str]]) -> list[dict[str, str]]:
        return [{"day": d.isoformat(), "weekday": d.strftime("%a").lower(), "reason": r} for d, r in pairs]

    return {
        "year": year,
        "verified": cal.is_verified(year),
        "provisional": not cal.is_verified(year),
        "working_days": cal.working_days_between(date(year - 1, 12, 31), date(year, 12, 31)),
        "non_working_weekdays": rows(cal.non_working_weekdays(year)),
        "working_weekend_days": rows(cal.working_weekend_days(year)),
        "sources": [
            {"day": o.day.isoformat(), "kind": o.kind, "working": o.working, "source": o.source}
            for o in cal.sources(year)
        ],
    }


def _print_table(command: str, data: dict[str, Any]) -> None:
    if command == "deadline":
        flags = "  provisional" if data["provisional"] else ""
        print(f"recipient {data['recipient']}  term {data['review_term']} working days{flags}")
        for item in data["items"]:
            print(f"  {item['day']}  {item['key']:<23} {item['basis']}")
        if data.get("filing_limit_missed"):
            print("  ! filing_limit_missed")
        for key in ("court_until", "further_complaint_until"):
            limit = data[key]
            flags = "  provisional" if limit["provisional"] else ""
            print(f"  {limit['day']}  {key:<23} {limit['basis']} (from {limit['from']}){flags}")
        return
    print(f"year {data['year']}  working_days {data['working_days']}" + ("  provisional" if data["provisional"] else ""))
    for title in ("non_working_weekdays", "working_weekend_days"):
        print(f"{title}:" + ("" if data[title] else " none"))
        for row in data[title]:
            print(f"  {row['day']} {row['weekday']}  {row['reason']}")


def main(argv: list[str]) -> int:
    """Run ``deadline`` or ``workdays`` (``argv[0]``); returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        data = _deadline(args) if args.command == "deadline" else _workdays(args)
    except UsageError as exc:
        return report("usage", str(exc), argv)
    except DeadlineError as exc:
        detail = str(exc).partition(": ")[2]
        return report(exc.key, _REASONS.get(exc.key, exc.key).format(detail=detail or "?"), argv)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_table(args.command, data)
    return 0
