"""`python -m bot faq [--lang kk|ru] [--limit N] [--json] [--batch] [QUERY ...]`: search the FAQ from a shell.

Pure domain code: imports nothing from aiogram. Examples::

    python -m bot faq --lang ru --json "сколько дней рассматривают жалобу"
    printf 'шағым қайда беремін\\nкурс доллара\\n' | python -m bot faq --batch

--json prints {"query": ..., "results": [{"id": ..., "score": ...}, ...]} (an empty list when nothing is confident
enough); --batch reads one query per line from stdin and prints one such JSON line per query. An error is one line:
``error: ...`` on stderr, or with --json ``{"error": KEY, "message": ...}`` on stdout; exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from bot.cli import Parser, UsageError, report
from bot.domain.faq import FaqIndex, default_index
from bot.domain.text import LANGUAGES


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m bot faq", description="Search the Shagym FAQ (kk/ru).")
    p.add_argument("query", nargs="*", help="the question (words are joined with spaces)")
    p.add_argument("--lang", choices=LANGUAGES, default=None, help="language hint; both languages are searched")
    p.add_argument("--limit", type=int, default=3, help="maximum number of results (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--batch", action="store_true", help="read one query per line from stdin, print JSON lines")
    p.add_argument("--faq", default=None, help="path to another faq.json (default: the packaged one)")
    return p


def _result(index: FaqIndex, query: str, lang: str | None, limit: int) -> dict:
    hits = index.search(query, lang=lang, limit=limit)
    return {"query": query, "results": [{"id": h.id, "score": h.score} for h in hits]}


def main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
    except UsageError as exc:
        return report("usage", str(exc), argv)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    try:
        index = FaqIndex.load(args.faq) if args.faq else default_index()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return report("faq_file", f"cannot read {args.faq or 'the FAQ'}: {exc.__class__.__name__}: {exc}", argv)
    out = sys.stdout
    if args.batch:
        for line in sys.stdin:
            q = line.strip()
            if not q:
                continue
            out.write(json.dumps(_result(index, q, args.lang, args.limit), ensure_ascii=False) + "\n")
        out.flush()
        return 0
    query = " ".join(args.query).strip()
    if not query:
        return report("usage", "a question is required: python -m bot faq [--lang kk|ru] [--json] QUERY "
                               "(or --batch < queries.txt)", argv)
    res = _result(index, query, args.lang, args.limit)
    if args.json:
        out.write(json.dumps(res, ensure_ascii=False) + "\n")
        return 0
    if not res["results"]:
        out.write("no confident match (out of scope?)\n")
        return 0
    lang = args.lang or "ru"
    for n, r in enumerate(res["results"], 1):
        e = index.entry(r["id"])
        out.write(f"{n}. {r['id']}  [{r['score']:.2f}]  {e.title[lang]}\n")
    best = index.entry(res["results"][0]["id"])
    out.write("\n" + best.answer[lang] + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
