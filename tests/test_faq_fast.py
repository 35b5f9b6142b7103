"""The FAQ search's fast paths (bot/domain/faq.py) give what the plain computation they replace gives, to the last
bit: phrase lists found in one pass as their regexes find them, and per-entry unit and trigram scores as a loop over
every unit computes them."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import faq
from bot.domain.faq import FaqIndex, default_index, skeleton, tokens

ROOT = Path(__file__).resolve().parents[1]
QUERIES = [json.loads(line)["q"] for line in (ROOT / "bench" / "faq_eval.jsonl").read_text("utf-8").splitlines()]


def _regex(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """A list's regex as the search built it before `_PhraseLists`: longest phrase first."""
    alts = sorted((re.escape(skeleton(p)) for p in phrases), key=len, reverse=True)
    return re.compile("(?:^| )(?:" + "|".join(alts) + ")")


LISTS = {
    **{"#" + name: tuple(p.split("|")) for name, p in faq._PHRASE_CONCEPTS_SRC.items()},
    "else": faq._ABOUT_ELSE_PHRASES, "elsewhere": faq._ELSEWHERE_PHRASES, "family": faq._FAMILY_PHRASES,
    "howto": faq._HOWTO_PHRASES, "price": faq._PRICE_PHRASES,
}


def _texts() -> list[str]:
    """The labelled queries, and every phrase alone, after a word, glued to one, inside one and with an ending."""
    out = [skeleton(q) for q in QUERIES[:400]]
    for phrases in LISTS.values():
        for p in map(skeleton, phrases):
            out += [p, f"и {p}", f"на{p}", f"и {p}ами тут", f"{p[:-1]} {p}", p[: len(p) // 2]]
    return out


def test_phrase_lists_find_what_their_regexes_find() -> None:
    regexes = {name: _regex(phrases) for name, phrases in LISTS.items()}
    for sk in _texts():
        assert faq._PHRASE_LISTS.found(sk) == {name for name, rx in regexes.items() if rx.search(sk)}, sk
        for name, rx in regexes.items():
            m = rx.search(sk)
            assert faq._PHRASE_LISTS.span(sk, name) == ((m.start(), m.end()) if m else (-1, -1)), (sk, name)


def test_phrase_lists_refuse_a_phrase_too_short_to_look_up() -> None:
    with pytest.raises(ValueError):
        faq._PhraseLists({"x": ("аб",)})


def _entry_of_units(ix: FaqIndex) -> list[int]:
    starts = [*ix._entry_starts.tolist(), len(ix._u_idf_sum)]
    return [ei for ei in range(len(starts) - 1) for _ in range(starts[ei], starts[ei + 1])]


@pytest.mark.parametrize("lang", ["ru", "kk", None])
def test_entry_scores_are_a_loop_over_the_units(lang: str | None) -> None:
    """The per-entry unit match and trigram overlap (a bincount, a blend where a word matched, one reduceat) equal
    each unit's blend computed on its own, word by word, and the best of each entry's units."""
    ix = default_index()
    entry_of = _entry_of_units(ix)
    key = lang if lang in ix._g_factor else None
    for q in QUERIES[::7]:
        qtoks = ix._query_tokens(q)
        if not qtoks:
            continue
        evs = [ix._evidence(t) for t in qtoks]
        wsum = max(sum(ev.weight for ev in evs), faq.MIN_MASS)
        negative = "#not" in qtoks
        prec: dict[int, float] = {}
        rec: dict[int, float] = {}
        for ev in evs:  # word by word, as the search summed before its bincount
            for u, p, r in zip(ev.units.tolist(), *ev.unit_terms.tolist(), strict=True):
                prec[u] = prec.get(u, 0.0) + p
                rec[u] = rec.get(u, 0.0) + r
        factor = ix._u_factor[key, negative]
        best = [0.0] * len(ix._entries)
        for u in prec:
            v = (faq.UNIT_PRECISION * (prec[u] / wsum) + (1.0 - faq.UNIT_PRECISION) * min(
                1.0, rec[u] / float(ix._u_idf_sum[u]))) * float(factor[u])
            best[entry_of[u]] = max(best[entry_of[u]], v)
        assert ix._unit_scores(evs, wsum, lang, negative).tolist() == best, q

        words = tokens(q, concepts=False)
        grams = {w[i : i + 3] for w in (f" {w} " for w in words) for i in range(len(w) - 2)}
        hits: dict[int, int] = {}
        for g in grams:
            for u in ix._grams.get(g, ()):
                hits[int(u)] = hits.get(int(u), 0) + 1
        best = [0.0] * len(ix._entries)
        for u, h in hits.items():
            v = 2.0 * h / (len(grams) + int(ix._n_grams[u])) * float(ix._g_factor[key][u])
            best[entry_of[u]] = max(best[entry_of[u]], v)
        assert ix._trigram_scores(words, lang).tolist() == best, q


def test_a_words_trigram_postings_are_its_trigrams_postings() -> None:
    """A query word's one posting array (`_WordEvidence.gram_units`) holds each unit once per trigram of the word
    it has, as the per-trigram arrays do; and a trigram of several query words counts once."""
    ix = default_index()
    n_units = len(ix._n_grams)
    for w in ("жалоба", "жалобы", "шағым", "заявление", "qwxz", "мен"):
        ev = ix._evidence(w)
        assert ev.grams == {f" {w} "[i : i + 3] for i in range(len(w))}
        per_gram = [ix._grams[g] for g in ev.grams if g in ix._grams]
        expect = np.bincount(np.concatenate(per_gram), minlength=n_units) if per_gram else np.zeros(n_units, int)
        assert np.bincount(ev.gram_units, minlength=n_units).tolist() == expect.tolist(), w
    # shared trigrams (" жа", "жал", "ало", ...) and a repeated word count once, as in one word's trigrams
    for words in (["жалоба", "жалобы"], ["жалоба", "жалоба"], ["заявление", "заявления", "заявлений"]):
        alone = ix._trigram_scores(words[:1], "ru").tolist()
        together = ix._trigram_scores(words, "ru").tolist()
        grams = {g for w in words for g in ix._evidence(w).grams}
        hits: dict[int, int] = {}
        for g in grams:
            for u in ix._grams.get(g, ()):
                hits[int(u)] = hits.get(int(u), 0) + 1
        entry_of = _entry_of_units(ix)
        best = [0.0] * len(ix._entries)
        for u, h in hits.items():
            v = 2.0 * h / (len(grams) + int(ix._n_grams[u])) * float(ix._g_factor["ru"][u])
            best[entry_of[u]] = max(best[entry_of[u]], v)
        assert together == best, words
        if words[0] == words[1]:
            assert together == alone


def test_ranked_sorts_as_a_stable_argsort() -> None:
    """Best first, ties in entry order, only the entries with evidence (the "none of these" entry aside)."""
    ix = default_index()
    n = len(ix._entries)
    rng = np.random.default_rng(1)
    for _ in range(200):
        raw = rng.choice([0.1, 0.4, 0.4, 0.7, 0.9], n) * (rng.random(n) < 0.9)
        raw[ix._none] = 0.0
        cand = rng.random(n) < 0.5
        ei = np.flatnonzero(cand)
        expect = [i for i in ei[np.argsort(-raw[ei], kind="stable")].tolist() if i != ix._none]
        assert ix._ranked(raw, cand) == expect


def test_entry_factors_without_a_concept_share_one_array_and_never_change_it() -> None:
    """`_entry_factors` returns the same array for every query that names no defining concept and no phrase an entry
    does not answer; the others get their own, equal to DEF_MISS multiplied in once per concept lacking."""
    ix = default_index()
    before = ix._no_concept_factor.tolist()
    outside = next(e.outside[0] for e in ix._entries if e.outside)
    for q in [outside, f"жалоба {outside}", *QUERIES[:300]]:
        sk = skeleton(q)
        qtoks = ix._query_tokens(q, sk)
        named = {ix._vocab[t] for t in qtoks if t.startswith("#") and t in ix._vocab}
        expect = []
        for d in ix._m.defining:
            f = 1.0
            for wid in d:
                if wid not in named:
                    f *= faq.DEF_MISS
            expect.append(f)
        for ei, rx in ix._outside:
            if rx.search(sk):
                expect[ei] *= faq.OUTSIDE_FACTOR
        assert ix._entry_factors(qtoks, sk).tolist() == expect, q
    assert ix._no_concept_factor.tolist() == before
    assert any(rx.search(skeleton(outside)) for _, rx in ix._outside)  # the phrase path was taken


def _osa(a: str, b: str) -> int:
    """The optimal-string-alignment distance's table, as the search computed it before `_one_edit`."""
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return 2
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        for j in range(1, lb + 1):
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        prev2, prev = prev, cur
    return prev[lb]


def _word_similarity(q: str, t: str) -> float:
    """`word_similarity` as it was with `_osa`'s table in place of `_one_edit`."""
    fast = faq._one_edit
    faq._one_edit = lambda a, b, lcp=None: _osa(a, b) <= 1
    try:
        return faq.word_similarity(q, t)
    finally:
        faq._one_edit = fast


def test_one_edit_is_an_osa_distance_of_at_most_one() -> None:
    """Every pair of words of up to 4 letters of a 3-letter alphabet, both ways round, the second no more than one
    letter longer and no more than two shorter (all the ways to differ by one edit or two)."""
    for la in range(5):
        for a in map("".join, itertools.product("абв", repeat=la)):
            for lb in range(max(0, la - 2), la + 2):
                for b in map("".join, itertools.product("абв", repeat=lb)):
                    assert faq._one_edit(a, b) == faq._one_edit(b, a) == (_osa(a, b) <= 1), (a, b)


_WORD = st.text(alphabet="абвгдежзиклмнопрстуфхчш01", max_size=12)


@settings(max_examples=2000, deadline=None)
@given(_WORD, _WORD, st.integers(0, 12))
def test_word_similarity_is_as_with_the_distance_table(a: str, b: str, cut: int) -> None:
    """Random words, and words sharing a beginning (so that the typo branch is reached)."""
    for q, t in ((a, b), (a[:cut] + b, a), (a + b, a[:cut] + b[1:]), (a[:cut] + b[:1] + a[cut:], a)):
        assert faq.word_similarity(q, t) == _word_similarity(q, t), (q, t)
        assert faq._one_edit(q, t) == (_osa(q, t) <= 1), (q, t)


def test_word_similarity_of_the_candidates_is_as_with_the_distance_table() -> None:
    """Every candidate pair the search scores for the labelled queries' words (`_compute_matches`)."""
    ix = default_index()
    words = {w for q in QUERIES[::3] for w in tokens(q, concepts=False)}
    n = 0
    for q in sorted(words):
        for t in ix._m.words:
            if t[:2] == q[:2] or t[:4] == q[:4]:
                assert faq.word_similarity(q, t) == _word_similarity(q, t), (q, t)
                n += 1
    assert n > 10000


def _plain_evidence(ix: FaqIndex, q: str) -> tuple[list[Any], ...]:
    """A word's units, unit terms and entry terms as the search computed them before: match by match, into a dict of
    units (the first of the best ones kept) and numpy arrays of the entries."""
    m = ix._compute_matches(q)
    wt = ix._weight(q, m)
    n = len(ix._entries)
    ubest: dict[int, tuple[float, float]] = {}
    cover = np.zeros(n)
    for wid, s in m:
        wi = ix._m.idf[wid]
        if wi < faq.POSTING_MIN_IDF:
            continue
        for ui in ix._postings[wid]:
            if ui not in ubest or s > ubest[ui][0]:
                ubest[ui] = (s, wi)
        for ei, f in ix._m.entry_words[wid]:
            if s * f > cover[ei]:
                cover[ei] = s * f
    sims = np.array([v[0] for v in ubest.values()])
    idfs = np.array([v[1] for v in ubest.values()])
    return (
        list(ubest), np.stack((wt * sims, idfs * sims)).tolist(),
        np.concatenate((wt * cover, *_plain_classifiers(ix, m, wt))).tolist(),
    )


def _plain_classifiers(ix: FaqIndex, m: faq.Matches, wt: float) -> tuple[np.ndarray, np.ndarray]:
    """The perceptron's scores and the naive-Bayes gains of a word's matches, as computed before into numpy arrays."""
    n = len(ix._entries)
    cls = np.zeros(n)
    best = max((s for _, s in m), default=0.0)
    if best >= faq.STRONG_SIM:
        for wid, s in m:
            if s == best:
                for c, v in ix._m.cls[wid]:
                    cls[c] += s * v
    nb_ev: dict[int, float] = {}
    for wid, s in m:
        if s >= faq.STRONG_SIM:
            for ei, c in ix._m.nb_post[wid]:
                if s * c > nb_ev.get(ei, 0.0):
                    nb_ev[ei] = s * c
    nb = np.zeros(n)
    for ei, c in nb_ev.items():
        nb[ei] = wt * (math.log(c + faq.NB_ALPHA) - math.log(faq.NB_ALPHA)) / faq.NB_TEMP
    return cls, nb


def test_a_words_evidence_is_its_matches_added_one_by_one() -> None:
    """`_word_evidence` (C-level dict operations, Python floats, one array a kind) gives the arrays a loop over the
    matches gives, to the last bit and in the same order: the labelled queries' words, typos of them, the vocabulary."""
    ix = default_index()
    words = sorted({t for q in QUERIES[::4] for t in ix._query_tokens(q)})
    words += [w[:2] + w[3:] for w in words if len(w) > 5] + list(ix._m.words[::7])
    ties = 0
    for q in words:
        ev = ix._word_evidence(q)
        assert (ev.units.tolist(), ev.unit_terms.tolist(), ev.entry_terms.tolist()) == _plain_evidence(ix, q), q
        assert ev.units.dtype == np.intp and ev.gram_units.dtype == np.int16
        kept = [s for wid, s in ev.matches if ix._m.idf[wid] >= faq.POSTING_MIN_IDF]
        ties += len(kept) > len(set(kept))
    assert ties > 100  # matches of equal similarity (the first one's IDF counts) were met


def test_else_kinds_are_each_lists_names_any() -> None:
    """`_else_kinds` (the lists' whole words looked up together) names the kinds whose list `_names_any` finds the
    word in: the vocabulary, the labelled queries' words, and every whole word and stem of the lists, alone, with
    endings, cut short and with a letter more."""
    ix = default_index()
    words = set(ix._m.words[::3]) | {w for q in QUERIES[::4] for w in skeleton(q).split()}
    for _, (exact, prefix) in faq._ELSE_KINDS:
        for w in (*exact, *prefix):
            words |= {w, w + "ни", w + "дарга", w + "ами", w[:-1], w + "а", w[:4] + "л" + w[4:]}
    for w in sorted(words):
        expect = {kind for kind, folded in faq._ELSE_KINDS if faq._names_any([w], folded)}
        assert faq._else_kinds(w) == expect, w
    assert {k for w in words for k in faq._else_kinds(w)} == {"hard", "elsewhere", "soft", "calendar"}


def test_loading_warms_the_commonest_words_and_changes_no_result() -> None:
    """`load()` computes the evidence of the WARM_WORDS words most units have, the same as computed at a search;
    searches of a loaded index give what a fresh index, whose words are all new, gives, to the last bit."""
    ix = FaqIndex.load()
    count = {w: len(p) for w, p in zip(ix._m.words, ix._postings, strict=True)}
    cut = sorted(count.values(), reverse=True)[faq.WARM_WORDS - 1]
    assert {w for w, c in count.items() if c > cut} <= set(ix._word_cache)
    assert len(ix._word_cache) == faq.WARM_WORDS and min(count[w] for w in ix._word_cache) == cut
    fresh = FaqIndex(ix.version, ix._categories, ix._public, ix._m)
    assert not fresh._word_cache
    for w in list(ix._word_cache)[::10]:
        a, b = ix._word_cache[w], fresh._word_evidence(w)
        assert (a.matches, a.weight, a.grams, a.strong) == (b.matches, b.weight, b.grams, b.strong), w
        for x, y in zip(
            (a.units, a.unit_terms, a.entry_terms, a.gram_units), (b.units, b.unit_terms, b.entry_terms, b.gram_units),
            strict=True,
        ):
            assert x.tolist() == y.tolist(), w
    for q in QUERIES[::20]:
        assert ix.raw_scores(q) == fresh.raw_scores(q), q
        assert ix.search(q, "ru") == fresh.search(q, "ru"), q
