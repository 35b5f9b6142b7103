"""The FAQ search's further example questions from the labelled sets: `python -m bench.faq_train [--exclude S,...]`.

The sets of bench/ (faq_eval.jsonl, faq_heldout*.jsonl, faq_dev*.jsonl) hold thousands of in-scope questions with
their entry, written by several people other than the authors of faq.json's own examples. Their in-scope queries
become further example questions of their entries in bot/domain/data/faq_examples.json, which the search matches
like faq.json's; their out-of-scope queries (greetings are not used) go under "_none" (`OOS_KEY`): the search's
"none of these" entry and the out-of-scope model it learns (bot/domain/faq.py `_none_entry`, `_oos_model`). A query
already among faq.json's examples (or seen before) is left out. ``--exclude`` leaves out whole sets by name (`SETS`), to measure on them.

How well this generalises is measured set by set (`python -m bench.faq_cv --by-set`): each set is searched by an
index that learned from every other set, never from itself.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from bench.faq_bench import SETS, load_eval
from bot.domain.faq import DEFAULT_PATH, EXAMPLES_PATH, OOS_KEY, Examples


def set_rows(name: str) -> list[dict[str, Any]]:
    """The labelled queries of one set (all of heldout3, check4 included)."""
    return load_eval(SETS[name], check=True)


def examples(names: list[str], faq: dict[str, Any] | None = None) -> Examples:
    """The in-scope queries of the named sets as example questions per entry and language, in the sets' order, less
    those faq.json already has and repeats (compared folded to lower case)."""
    faq = faq if faq is not None else json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    seen = {q.strip().lower() for e in faq["entries"] for qs in e["questions"].values() for q in qs}
    out: Examples = {}
    for name in names:
        for r in set_rows(name):
            q = r["q"].strip()
            if r.get("kind") == "greeting" or q.lower() in seen:
                continue
            seen.add(q.lower())
            out.setdefault(r["id"] or OOS_KEY, {}).setdefault(r["lang"], []).append(q)
    return {k: out[k] for k in sorted(out)}


def render(ex: Examples, names: list[str]) -> str:
    """The text of faq_examples.json: one entry a line."""
    head = {"sets": names, "note": "written by bench/faq_train.py from the labelled sets of bench/; do not edit"}
    lines = [f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False, separators=(',', ':'))}" for k, v in head.items()]
    body = ",\n".join(f" {json.dumps(k)}:{json.dumps(v, ensure_ascii=False, separators=(',', ':'))}" for k, v in ex.items())
    return "{\n" + ",\n".join(lines) + ',\n"examples":{\n' + body + "\n}\n}\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    exclude = set(argv[argv.index("--exclude") + 1].split(",")) if "--exclude" in argv else set()
    names = [n for n in SETS if n not in exclude]
    ex = examples(names)
    EXAMPLES_PATH.write_text(render(ex, names), encoding="utf-8")
    n = sum(len(v) for d in ex.values() for v in d.values())
    print(f"wrote {EXAMPLES_PATH}: {n} example questions from {', '.join(names)}; now run python -m bot.domain.faq")
    return 0


if __name__ == "__main__":
    sys.exit(main())
