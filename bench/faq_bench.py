"""FAQ search benchmark: `python -m bench.faq_bench [--json]`, or `run()` from Python.

Reads the labelled queries ({"q", "lang", "id" (null = out of scope), "split", optional "kind": "greeting"}):
bench/faq_eval.jsonl (splits dev and test) and bench/faq_heldout.jsonl (split heldout: written before any tuning
of the current engine and never used for it). Reports, per language and split: top-1 and top-3 accuracy over
in-scope queries (a query rejected as out of scope counts as a miss), the out-of-scope rejection rate, how many
greetings the bot recognises as such (and how many in-scope queries it would wrongly take for one), and search
latency p50/p99 in milliseconds over all queries, repeated to be stable. The engine's weights and threshold are
tuned on the dev split only; test and heldout are held out.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bot.faq import FaqIndex, default_index, small_talk

EVAL_PATH = Path(__file__).resolve().parent / "faq_eval.jsonl"
HELDOUT_PATH = Path(__file__).resolve().parent / "faq_heldout.jsonl"


def load_eval(*paths: str | Path) -> list[dict]:
    rows = []
    for path in paths or (EVAL_PATH, HELDOUT_PATH):
        with open(path, encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


def _percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def evaluate(rows: list[dict], index: FaqIndex | None = None) -> dict:
    """Accuracy figures per split and language (keys like "test/kk"), plus "all/kk", "all/ru" and the misses."""
    index = index or default_index()
    groups: dict[str, dict] = {}
    misses = []
    for r in rows:
        hits = index.search(r["q"], lang=r["lang"], limit=3)
        ids = [h.id for h in hits]
        for key in (f"{r['split']}/{r['lang']}", f"all/{r['lang']}"):
            g = groups.setdefault(key, {"n": 0, "top1": 0, "top3": 0, "oos_n": 0, "oos_rejected": 0})
            if r["id"] is None:
                g["oos_n"] += 1
                g["oos_rejected"] += not ids
            else:
                g["n"] += 1
                g["top1"] += ids[:1] == [r["id"]]
                g["top3"] += r["id"] in ids
        ok = (not ids) if r["id"] is None else ids[:1] == [r["id"]]
        if not ok:
            misses.append({**r, "got": [(h.id, h.score) for h in hits]})
        g = groups[f"{r['split']}/{r['lang']}"]
        talk = small_talk(r["q"])
        if r.get("kind") == "greeting":
            g["greet_n"] = g.get("greet_n", 0) + 1
            g["greet_ok"] = g.get("greet_ok", 0) + (talk == "greeting")
        elif r["id"] is not None and talk is not None:
            g["greet_false"] = g.get("greet_false", 0) + 1
    out = {}
    for key, g in sorted(groups.items()):
        out[key] = {
            "n": g["n"],
            "top1": round(g["top1"] / g["n"], 4) if g["n"] else None,
            "top3": round(g["top3"] / g["n"], 4) if g["n"] else None,
            "oos_n": g["oos_n"],
            "oos_rejection": round(g["oos_rejected"] / g["oos_n"], 4) if g["oos_n"] else None,
            "greetings": f"{g.get('greet_ok', 0)}/{g['greet_n']}" if g.get("greet_n") else None,
            "greeting_false_positives": g.get("greet_false", 0),
        }
    return {"accuracy": out, "misses": misses}


def latency(rows: list[dict], index: FaqIndex | None = None, repeats: int = 20) -> dict:
    """Per-call search latency over all queries, `repeats` rounds (the first round is included: no warm cache)."""
    index = index or default_index()
    times = []
    for _ in range(repeats):
        for r in rows:
            t0 = time.perf_counter()
            index.search(r["q"], lang=r["lang"], limit=3)
            times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    return {
        "calls": len(times),
        "p50_ms": round(_percentile(times, 0.50), 4),
        "p99_ms": round(_percentile(times, 0.99), 4),
        "max_ms": round(times[-1], 4),
    }


def run(repeats: int = 20) -> dict:
    t0 = time.perf_counter()
    index = FaqIndex.load()
    load_ms = (time.perf_counter() - t0) * 1000.0
    rows = load_eval()
    res = evaluate(rows, index)
    res["latency"] = latency(rows, index, repeats)
    res["load_ms"] = round(load_ms, 1)
    res["queries"] = len(rows)
    return res


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    res = run()
    if "--json" in argv:
        print(json.dumps(res, ensure_ascii=False, indent=1))
        return 0
    print(f"FAQ search benchmark: {res['queries']} labelled queries, index load {res['load_ms']} ms")
    print(f"{'split/lang':<12} {'n':>4} {'top-1':>7} {'top-3':>7} {'oos':>4} {'oos rej':>8} {'greetings':>9}")
    for key, g in res["accuracy"].items():
        t1 = "-" if g["top1"] is None else f"{g['top1']:.3f}"
        t3 = "-" if g["top3"] is None else f"{g['top3']:.3f}"
        rj = "-" if g["oos_rejection"] is None else f"{g['oos_rejection']:.3f}"
        gr = g.get("greetings") or "-"
        print(f"{key:<12} {g['n']:>4} {t1:>7} {t3:>7} {g['oos_n']:>4} {rj:>8} {gr:>9}")
    lat = res["latency"]
    print(f"latency over {lat['calls']} calls: p50 {lat['p50_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms, max {lat['max_ms']:.3f} ms")
    if "-v" in argv:  # the misses of the dev split only: the held-out splits are not for looking at
        for m in res["misses"]:
            if m["split"] == "dev" or "--all-misses" in argv:
                print("MISS", m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
