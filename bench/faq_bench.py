"""FAQ search benchmark: `python -m bench faq [--json] [-v]`, or `run()` from Python.

Labelled queries, one JSON object a line ({"q", "lang", "id" (null = out of scope), "split", optional
"kind": "greeting"}):

* bench/faq_eval.jsonl (splits ``dev`` and ``test``), bench/faq_heldout.jsonl (split ``dev2``: it was the held-out
  set of the previous round; once its aggregate figures had been looked at during that round's tuning it was no
  longer blind, so it became a development set), bench/faq_dev3.jsonl (split ``dev3``: written from the titles
  and answers before this round's tuning), bench/faq_dev4.jsonl, faq_dev5.jsonl and faq_dev6.jsonl (splits ``dev4``
  to ``dev6``: written the same way later in the tuning, each measured once blind before it joined the others),
  bench/faq_dev7.jsonl (split ``dev7``: near misses written from the answers' own vocabulary and greetings with a
  request, after heldout2's first measurement showed out-of-scope queries as the weak point) and bench/faq_dev8.jsonl
  (split ``dev8``: in-scope questions that carry the words of those near misses — a bank, a phone, an address, a
  month — so that the guard against them does not reject real questions) and bench/faq_heldout2.jsonl (split ``dev9``:
  written by someone else from the entries' titles and answers only, it was round 2's blind held-out set; its aggregate
  figures were read twice in that round, and round 3 opened it to study the misses it showed in out-of-scope
  queries and greetings, so it is no longer blind) and bench/faq_dev10.jsonl (split ``dev10``: written at the start of
  round 3 from the titles and answers, before any tuning of that round, with the weak points of dev9 in mind:
  out-of-scope queries that share the knowledge base's words, complaints about private businesses, other state
  matters, everyday chat, thanks and goodbyes; measured once blind, then tuned on) — the development sets the engine
  is tuned on.
* bench/faq_heldout3.jsonl: round 3's blind set, measured once, then opened in round 4. Written by someone else
  from the entries' titles and answers only, before round 3's tuning; round 3 read its aggregate figures once (kk
  0.951 / ru 0.930 top-1, out of scope rejected 0.903 / 0.968). At the start of round 4, before any tuning, a
  fixed random 30% of it (`check4_rows`: seed 4, per language and kind) was set aside as split ``check4``, round
  4's own check: its figures are shown only with ``--check4``, never its queries or misses, and were read at most
  three times. The other 70% is split ``dev11``, a development set from round 4 on.
* bench/faq_heldout4.jsonl (split ``heldout4``): round 4's blind set, written by someone else from the entries' ids,
  titles and answers only (never the example questions, the engine or the other sets) before round 4's tuning, and
  kept out of the repository until that tuning was merged. Its figures were read twice: once on round 3's engine
  before the tuning (kk 0.961 / ru 0.940 top-1), once on round 4's after its
  merge (kk 0.961 / ru 0.953). Not tuned on, and the engine was not changed after that reading. Opened in round 5
  (no longer blind): round 5 measured it before any change (kk 0.961 / ru 0.953), held it out of the further example
  questions while it changed the engine (`python -m bench.faq_cv --by-set --hold heldout4`), and looked at its misses.
* bench/faq_heldout5.jsonl (split ``heldout5``): round 5's blind set, written by someone else from the entries' ids,
  titles and answers only, kept out of the repository until round 5's tuning was merged and measured by the lead
  (kk 0.965 / ru 0.939 top-1 on round 5's engine). Opened in round 6 (no longer blind): round 6 studied its misses
  with it left out of the further example questions (`python -m bench.faq_train --exclude heldout5`), checked every
  change by leaving each other set out, and then let the search learn from it like the others.
* bench/faq_heldout6.jsonl (split ``heldout6``): round 6's blind set, written by someone else from the entries' ids,
  titles and answers only, measured by the lead (kk 0.948 / ru 0.968 top-1, out of scope 0.882 / 0.931 on round 6's
  engine). Opened in round 7: studied and every change checked with it held out of learning
  (`python -m bench.faq_cv --by-set --hold heldout6`), then learned from like the others.
* bench/faq_heldout7.jsonl (split ``heldout7``): round 7's blind set, written the same way, measured by the lead (kk
  0.968 / ru 0.942 top-1, out of scope 0.933 / 0.913 on round 7's engine). Opened in round 8: studied with it held out
  (`python -m bench.faq_cv --by-set --hold heldout7`), then learned from like the others.
* bench/faq_heldout8.jsonl (split ``heldout8``, :data:`BLIND`): round 8's blind set, written the same way by a new
  writer before round 8's tuning and kept outside the repository until the lead had measured it twice: on round 7's
  engine (kk 0.964 / ru 0.974 top-1, out of scope 0.981 / 1.000) and on round 8's, unchanged since (kk 0.971 / ru
  0.981, out of scope 0.981 / 1.000; greetings 11/14 and 14/14). It is reported here in a section of its own and
  is not in :data:`SETS`: nothing learns from it (bench/faq_train.py, bench/faq_cv.py read SETS only), so its
  figures stay figures on queries the search never saw, until a later round opens it. One exception: the three
  Kazakh greetings small talk missed at that measurement (an elder addressed, «халың қалай», thanks "for your
  help") were looked at after it and the small-talk words widened, so its greeting figure is no longer blind.
  Note: 223 of its 824 rows are word for word questions the search already had (faq.json's own or an earlier
  set's: writers think alike); on the other 601 the figures after round 8 were kk 0.961 / ru 0.972 top-1, out of
  scope 0.976 / 1.000.

Since round 5 the sets above also teach the search (round 6: heldout5 too; round 7: heldout6, and every set's
out-of-scope queries): their in-scope queries are further example questions and their out-of-scope queries the
"none of these" entry (bench/faq_train.py writes bot/domain/data/faq_examples.json from them). Their figures here are
therefore figures on queries the index learned from (about 0.99 and more), for every set, heldout4 to 6 included; how
the search generalises to a writer it never saw is measured by leaving one set out: `python -m bench.faq_cv --by-set`.

Reports, per split and language: top-1 and top-3 accuracy over in-scope queries (a query rejected as out of scope
counts as a miss), the out-of-scope rejection rate, how many greetings (with thanks and goodbyes: the rows of kind
"greeting") the bot recognises as small talk and answers with its menu (and how many in-scope queries it would
wrongly take for small talk), and search latency p50/p99 in milliseconds over all queries,
repeated to be stable. ``-v`` prints the misses of the development splits.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from bot.domain.faq import FaqIndex, default_index, small_talk

HERE = Path(__file__).resolve().parent
EVAL_PATH = HERE / "faq_eval.jsonl"
DEV2_PATH = HERE / "faq_heldout.jsonl"
DEV3_PATH = HERE / "faq_dev3.jsonl"
DEV4_PATH = HERE / "faq_dev4.jsonl"
DEV5_PATH = HERE / "faq_dev5.jsonl"
DEV6_PATH = HERE / "faq_dev6.jsonl"
DEV7_PATH = HERE / "faq_dev7.jsonl"
DEV8_PATH = HERE / "faq_dev8.jsonl"
DEV9_PATH = HERE / "faq_heldout2.jsonl"  # round 2's held-out set, now split dev9
DEV10_PATH = HERE / "faq_dev10.jsonl"
HELDOUT3_PATH = HERE / "faq_heldout3.jsonl"  # round 3's blind set, opened in round 4: splits dev11 and check4
HELDOUT4_PATH = HERE / "faq_heldout4.jsonl"  # round 4's blind set, opened in round 5
HELDOUT5_PATH = HERE / "faq_heldout5.jsonl"  # round 5's blind set, opened and learned from in round 6
HELDOUT6_PATH = HERE / "faq_heldout6.jsonl"  # round 6's blind set, opened and learned from in round 7
HELDOUT7_PATH = HERE / "faq_heldout7.jsonl"  # round 7's blind set, opened and learned from in round 8
HELDOUT8_PATH = HERE / "faq_heldout8.jsonl"  # round 8's blind set: reported, never learned from (BLIND)
DEV_SPLITS = ("dev", "test", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "dev9", "dev10", "dev11")
CHECK_SPLIT = "check4"  # round 4's own held-out 30% of heldout3: aggregate figures only, with --check4
CHECK_SEED = 4
CHECK_SHARE = 0.3


def check4_rows(rows: list[dict]) -> set[int]:
    """The line numbers of faq_heldout3.jsonl set aside as round 4's check: a fixed random 30% of each (language,
    in scope / out of scope / greeting) group, drawn with seed 4 before any tuning of round 4."""
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        kind = "greeting" if r.get("kind") == "greeting" else ("oos" if r["id"] is None else "in")
        groups.setdefault((r["lang"], kind), []).append(i)
    rng = random.Random(CHECK_SEED)
    out: set[int] = set()
    for key in sorted(groups):
        lines = groups[key]
        out.update(rng.sample(lines, round(CHECK_SHARE * len(lines))))
    return out


# One set per writer and round, by name: its rows ("heldout3" holds the splits dev11 and check4).
SETS: dict[str, Path] = {
    "eval": EVAL_PATH, "dev2": DEV2_PATH, "dev3": DEV3_PATH, "dev4": DEV4_PATH, "dev5": DEV5_PATH, "dev6": DEV6_PATH,
    "dev7": DEV7_PATH, "dev8": DEV8_PATH, "dev9": DEV9_PATH, "dev10": DEV10_PATH, "heldout3": HELDOUT3_PATH,
    "heldout4": HELDOUT4_PATH, "heldout5": HELDOUT5_PATH, "heldout6": HELDOUT6_PATH,
    "heldout7": HELDOUT7_PATH,
}
#: Blind sets: measured and reported, never learned from (not in SETS) until a later round opens them.
BLIND: dict[str, Path] = {"heldout8": HELDOUT8_PATH}


def load_eval(*paths: str | Path, check: bool = False) -> list[dict]:
    """The labelled queries of `paths` (default: every set present); faq_heldout3.jsonl's rows as splits dev11 and
    check4, the latter only with `check`."""
    rows = []
    for path in paths or SETS.values():
        if not paths and not Path(path).exists():
            continue
        with open(path, encoding="utf-8") as fh:
            these = [json.loads(line) for line in fh if line.strip()]
        if Path(path).resolve() == HELDOUT3_PATH:
            held = check4_rows(these)
            these = [{**r, "split": CHECK_SPLIT if i in held else "dev11"} for i, r in enumerate(these)]
            these = [r for r in these if check or r["split"] != CHECK_SPLIT]
        rows += these
    return rows


def is_dev(key: str) -> bool:
    """Whether an accuracy key ("dev9/kk", "devall/ru") is of the development sets, tuned on."""
    split = key.split("/")[0]
    return split in DEV_SPLITS or split == "devall"


def _percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def evaluate(rows: list[dict], index: FaqIndex | None = None) -> dict:
    """Accuracy figures per split and language (keys like "dev9/kk"), "devall/kk" over every development
    split, and the misses (development splits only: the held-out ones are not for looking at)."""
    index = index or default_index()
    groups: dict[str, dict] = {}
    misses = []
    for r in rows:
        hits = index.search(r["q"], lang=r["lang"], limit=3)
        ids = [h.id for h in hits]
        keys = [f"{r['split']}/{r['lang']}"]
        if r["split"] in DEV_SPLITS:
            keys.append(f"devall/{r['lang']}")
        talk = small_talk(r["q"])
        for key in keys:
            g = groups.setdefault(key, {"n": 0, "top1": 0, "top3": 0, "oos_n": 0, "oos_rejected": 0})
            if r["id"] is None:
                g["oos_n"] += 1
                g["oos_rejected"] += not ids
            else:
                g["n"] += 1
                g["top1"] += ids[:1] == [r["id"]]
                g["top3"] += r["id"] in ids
            if r.get("kind") == "greeting":
                g["greet_n"] = g.get("greet_n", 0) + 1
                g["greet_ok"] = g.get("greet_ok", 0) + (talk is not None)  # greeting, thanks or goodbye
            elif r["id"] is not None and talk is not None:
                g["greet_false"] = g.get("greet_false", 0) + 1
        ok = (not ids) if r["id"] is None else ids[:1] == [r["id"]]
        if not ok and r["split"] in DEV_SPLITS:
            misses.append({**r, "got": [(h.id, h.score) for h in hits]})
    out = {}
    for key, g in sorted(groups.items(), key=lambda kv: (is_dev(kv[0]), kv[0])):
        out[key] = {
            "n": g["n"],
            "top1": round(g["top1"] / g["n"], 4) if g["n"] else None,
            "top1_count": g["top1"],
            "top3": round(g["top3"] / g["n"], 4) if g["n"] else None,
            "oos_n": g["oos_n"],
            "oos_rejected": g["oos_rejected"],
            "oos_rejection": round(g["oos_rejected"] / g["oos_n"], 4) if g["oos_n"] else None,
            "greetings": f"{g.get('greet_ok', 0)}/{g['greet_n']}" if g.get("greet_n") else None,
            "greeting_false_positives": g.get("greet_false", 0),
        }
    return {"accuracy": out, "misses": misses}


def latency(rows: list[dict], index: FaqIndex | None = None, repeats: int = 20) -> dict:
    """Per-call search latency over all queries, `repeats` rounds (the first round is included: no warm cache):
    wall-clock time, and the CPU time of the calling thread (what a call costs, whatever else runs on the
    machine)."""
    index = index or default_index()
    times = []
    cpu = []
    for _ in range(repeats):
        for r in rows:
            c0 = time.thread_time()
            t0 = time.perf_counter()
            index.search(r["q"], lang=r["lang"], limit=3)
            times.append((time.perf_counter() - t0) * 1000.0)
            cpu.append((time.thread_time() - c0) * 1000.0)
    times.sort()
    cpu.sort()
    return {
        "calls": len(times),
        "p50_ms": round(_percentile(times, 0.50), 4),
        "p99_ms": round(_percentile(times, 0.99), 4),
        "max_ms": round(times[-1], 4),
        "cpu_p50_ms": round(_percentile(cpu, 0.50), 4),
        "cpu_p99_ms": round(_percentile(cpu, 0.99), 4),
    }


def run(repeats: int = 20, check: bool = False) -> dict:
    t0 = time.perf_counter()
    index = FaqIndex.load()
    load_ms = (time.perf_counter() - t0) * 1000.0
    rows = load_eval(check=check) + load_eval(*BLIND.values())
    res = evaluate(rows, index)
    res["latency"] = latency(rows, index, repeats)
    res["load_ms"] = round(load_ms, 1)
    res["queries"] = len(rows)
    return res


def _row(key: str, g: dict) -> str:
    t1 = "-" if g["top1"] is None else f"{g['top1']:.3f}"
    t3 = "-" if g["top3"] is None else f"{g['top3']:.3f}"
    rj = "-" if g["oos_rejection"] is None else f"{g['oos_rejection']:.3f}"
    gr = g.get("greetings") or "-"
    return f"{key:<13} {g['n']:>4} {t1:>7} {t3:>7} {g['oos_n']:>4} {rj:>8} {gr:>9}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    res = run(check="--check4" in argv)
    if "--json" in argv:
        print(json.dumps(res, ensure_ascii=False, indent=1))
        return 0
    header = f"{'split/lang':<13} {'n':>4} {'top-1':>7} {'top-3':>7} {'oos':>4} {'oos rej':>8} {'greetings':>9}"
    print(f"FAQ search benchmark: {res['queries']} labelled queries, index load {res['load_ms']} ms")
    def kind(key: str) -> str:
        return "blind" if key.split("/")[0] in BLIND else "dev" if is_dev(key) else "former"

    for title, which in (("Blind set (written before round 8's tuning by a writer the search never saw; never "
                          "learned from; its 3 missed Kazakh greetings were looked at after it was measured):", "blind"),
                         ("Former blind sets (heldout4 to heldout7, opened and learned from in rounds 5 to 8: "
                          "figures on learned queries, not a measure of generalisation (python -m bench.faq_cv "
                          "--by-set); check4: 30% of heldout3, with --check4):", "former"),
                         ("Development sets (tuned on, and learned from since round 5):", "dev")):
        keys = [key for key in res["accuracy"] if kind(key) == which]
        if keys:
            print(title)
            print(header)
            for key in keys:
                print(_row(key, res["accuracy"][key]))
    lat = res["latency"]
    print(
        f"latency over {lat['calls']} calls: p50 {lat['p50_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms, "
        f"max {lat['max_ms']:.3f} ms (CPU time: p50 {lat['cpu_p50_ms']:.3f} ms, p99 {lat['cpu_p99_ms']:.3f} ms)"
    )
    if "-v" in argv:
        for m in res["misses"]:
            print("MISS", json.dumps(m, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
