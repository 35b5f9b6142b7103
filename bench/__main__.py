"""`python -m bench [dispatch|faq|hops|e2e|reminders|scale|scaleout|cost] ...`: every benchmark, each reporting
ratios against a baseline measured in the same run. With no name, dispatch, faq, hops, e2e and reminders run
(reminders with --count 10000 takes ~7 minutes, e2e ~4); scale runs only by name (its first run generates a
~4 GB database; `scale --small` is the CI size); scaleout (several instances: webhook, PostgreSQL + Redis) runs
only by name; so does cost (CPU per update of each kind in process, no baseline: to compare two checkouts)."""

from __future__ import annotations

import importlib
import sys

MODULES = {
    "dispatch": "bench.dispatch_bench",
    "faq": "bench.faq_bench",
    "hops": "bench.hops",
    "cost": "bench.cost",
    "e2e": "bench.e2e",
    "reminders": "bench.reminders_bench",
    "scale": "bench.scale",
    "memory": "bench.memory",
    "scaleout": "bench.scaleout",
}
DEFAULT = ("dispatch", "faq", "hops", "e2e", "reminders")


def main(argv: list[str]) -> int:
    """The leading names pick the benchmarks; everything after them is passed to each
    (`python -m bench e2e --kind faq --repeats 1`)."""
    names = []
    while argv and not argv[0].startswith("-"):
        if argv[0] not in MODULES:
            print(f"unknown benchmark {argv[0]!r} (known: {', '.join(MODULES)})", file=sys.stderr)
            return 2
        names.append(argv.pop(0))
    names, rest = names or list(DEFAULT), argv
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)  # stdout stays one JSON document with --json
        code = importlib.import_module(MODULES[name]).main(rest)
        if code:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
