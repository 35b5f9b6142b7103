"""`python -m bench [dispatch|faq|reminders] ...`: every benchmark, each reporting ratios against a baseline
measured in the same run. With no name, all three run (reminders with --count 10000 takes ~7 minutes)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-")] or ["dispatch", "faq", "reminders"]
    rest = [a for a in argv if a.startswith("-")]
    for name in names:
        print(f"== {name}", flush=True)
        if name == "dispatch":
            from bench.dispatch_bench import main as run
        elif name == "faq":
            from bench.faq_bench import main as run
        elif name == "reminders":
            from bench.reminders_bench import main as run
        else:
            print(f"unknown benchmark {name!r}", file=sys.stderr)
            return 2
        code = run(rest)
        if code:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
