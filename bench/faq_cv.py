"""Cross-validation of the FAQ search over its own example questions: `python -m bench.faq_cv [--folds K] [-v]`.

The example questions of bot/domain/data/faq.json are split into K folds (every K-th question of each entry and
language, so each fold holds about 1/K of every entry); for each fold the index is built without that fold's
questions and searched with them. Reports top-1 and top-3 per language and how many of these in-scope questions
were rejected as out of scope. It measures how the search generalises to phrasings it has not seen, without
labelled sets: what the development sets cannot tell once they have been tuned on. ``-v`` prints the misses.

``--by-set`` (the main signal since the labelled sets became further example questions, bench/faq_train.py): each
set of bench/ is searched by an index that learned from faq.json and every other set but itself, by writer and round
rather than by random rows; top-1, top-3 and out-of-scope rejection per set and language, and over all of them.
``--hold S,...`` keeps sets out of every index (never learned from, only searched: the check of a round).
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

from bot.domain.faq import DEFAULT_PATH, FaqIndex
from bot.domain.text import LANGUAGES


def folds(data: dict[str, Any], k: int) -> list[tuple[dict[str, Any], list[tuple[str, str, str]]]]:
    """(the knowledge base less one fold's questions, that fold's (entry id, language, question)) for each fold."""
    out = []
    for fold in range(k):
        train = copy.deepcopy(data)
        held: list[tuple[str, str, str]] = []
        for e in train["entries"]:
            for lang in LANGUAGES:
                qs = e["questions"].get(lang, [])
                held += [(e["id"], lang, q) for i, q in enumerate(qs) if i % k == fold]
                e["questions"][lang] = [q for i, q in enumerate(qs) if i % k != fold]
        out.append((train, held))
    return out


def run(k: int = 5) -> dict[str, Any]:
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    stats = {lang: {"n": 0, "top1": 0, "top3": 0, "rejected": 0} for lang in LANGUAGES}
    misses = []
    for train, held in folds(data, k):
        index = FaqIndex.from_dict(train, {})
        for id_, lang, q in held:
            ids = [h.id for h in index.search(q, lang=lang, limit=3)]
            s = stats[lang]
            s["n"] += 1
            s["top1"] += ids[:1] == [id_]
            s["top3"] += id_ in ids
            s["rejected"] += not ids
            if ids[:1] != [id_]:
                misses.append({"q": q, "lang": lang, "id": id_, "got": ids})
    return {
        "folds": k,
        "accuracy": {
            lang: {
                **s,
                "top1_rate": round(s["top1"] / s["n"], 4),
                "top3_rate": round(s["top3"] / s["n"], 4),
                "rejected_rate": round(s["rejected"] / s["n"], 4),
            }
            for lang, s in stats.items()
        },
        "misses": misses,
    }


def _tally(index: FaqIndex, rows: list[dict[str, Any]], into: dict[str, dict[str, int]], misses: list) -> None:
    for r in rows:
        ids = [h.id for h in index.search(r["q"], lang=r["lang"], limit=3)]
        s = into.setdefault(r["lang"], {"n": 0, "top1": 0, "top3": 0, "oos_n": 0, "oos_rejected": 0})
        if r["id"] is None:
            s["oos_n"] += 1
            s["oos_rejected"] += not ids
            if ids:
                misses.append({"q": r["q"], "lang": r["lang"], "id": None, "got": ids})
        else:
            s["n"] += 1
            s["top1"] += ids[:1] == [r["id"]]
            s["top3"] += r["id"] in ids
            if ids[:1] != [r["id"]]:
                misses.append({"q": r["q"], "lang": r["lang"], "id": r["id"], "got": ids})


def by_set(hold: tuple[str, ...] = ()) -> dict[str, Any]:
    """Leave one set out: per set of bench/ (`faq_train.SETS`) but the held ones, the figures of an index built from
    faq.json and the other sets' in-scope queries; the held sets are searched by the index of all the others."""
    from bench.faq_train import SETS, examples, set_rows

    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    learn = [n for n in SETS if n not in hold]
    out: dict[str, dict[str, dict[str, int]]] = {}
    misses: list[dict[str, Any]] = []
    for name in learn:
        index = FaqIndex.from_dict(data, examples([n for n in learn if n != name], data))
        _tally(index, set_rows(name), out.setdefault(name, {}), misses)
        out.setdefault("all", {})
        for lang, s in out[name].items():
            agg = out["all"].setdefault(lang, dict.fromkeys(s, 0))
            for key, v in s.items():
                agg[key] += v
    if hold:
        index = FaqIndex.from_dict(data, examples(learn, data))
        for name in hold:
            _tally(index, set_rows(name), out.setdefault(name, {}), [])
    return {"sets": out, "misses": misses}


def _print_by_set(res: dict[str, Any], verbose: bool) -> None:
    print("FAQ search, leave one set out (each set searched by an index that never learned from it)")
    print(f"{'set/lang':<14} {'n':>4} {'top-1':>7} {'top-3':>7} {'oos':>4} {'oos rej':>8}")
    for name, langs in res["sets"].items():
        for lang, s in sorted(langs.items()):
            t1 = f"{s['top1'] / s['n']:.3f}" if s["n"] else "-"
            t3 = f"{s['top3'] / s['n']:.3f}" if s["n"] else "-"
            rj = f"{s['oos_rejected'] / s['oos_n']:.3f}" if s["oos_n"] else "-"
            print(f"{name + '/' + lang:<14} {s['n']:>4} {t1:>7} {t3:>7} {s['oos_n']:>4} {rj:>8}")
    if verbose:
        for m in res["misses"]:
            print("MISS", json.dumps(m, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--by-set" in argv:
        hold = tuple(argv[argv.index("--hold") + 1].split(",")) if "--hold" in argv else ()
        res_sets = by_set(hold)
        if "--json" in argv:
            print(json.dumps(res_sets, ensure_ascii=False, indent=1))
        else:
            _print_by_set(res_sets, "-v" in argv)
        return 0
    k = int(argv[argv.index("--folds") + 1]) if "--folds" in argv else 5
    res = run(k)
    if "--json" in argv:
        print(json.dumps(res, ensure_ascii=False, indent=1))
        return 0
    print(f"FAQ search, {k}-fold cross-validation over the example questions")
    print(f"{'lang':<5} {'n':>5} {'top-1':>7} {'top-3':>7} {'rejected':>9}")
    for lang, s in res["accuracy"].items():
        print(f"{lang:<5} {s['n']:>5} {s['top1_rate']:>7.3f} {s['top3_rate']:>7.3f} {s['rejected_rate']:>9.3f}")
    if "-v" in argv:
        for m in res["misses"]:
            print("MISS", json.dumps(m, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
