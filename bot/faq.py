"""FAQ search over bot/data/faq.json (Kazakh / Russian), pure Python.

No aiogram, no network, no models: everything is precomputed at load time and a query costs well under a
millisecond or two.

How matching works
------------------
Every text (query, example question, title, answer) is folded into one Cyrillic "skeleton" (`skeleton()`):
lower case; Latin transliterated to Cyrillic (the 2021 Kazakh Latin alphabet: ş ğ ı ä ö ü ū q ñ j …, and informal
spellings: sh zh ch kh, "qalay", "zhauap"); Kazakh-specific letters folded into their Russian look-alikes
(ә→а, ғ→г, қ→к, ң→н, ө→о, ұ/ү→у, һ→х, і→и) plus ы/й→и, ё/э→е, щ→ш, ц→тс, я→иа, ю→иу, soft/hard signs dropped and
doubled letters collapsed. So "şağym", "shagym", "шагым" and "шағым" are the same word here, and so are a Kazakh
word typed with Russian letters and the real one.

A query is scored against every entry with three signals, all in [0, 1]:

* unit match — for each example question and the title ("units", both languages), an IDF-weighted soft match of
  the query words against the unit's words (precision over the query blended with recall over the unit); the best
  unit counts. Words match exactly, by prefix (Kazakh and Russian endings: "шағымымды" ~ "шағым", "жалобу" ~
  "жалобы") or within one edit on their first 6-7 letters (typos), with decreasing similarity;
* entry coverage — how much of the query (IDF-weighted) the entry's whole vocabulary covers (questions, titles and,
  at a discount, the answer texts);
* character trigrams — Dice overlap between the query's and each unit's letter trigrams (typos, glued or split
  words); the best unit counts.

The blend is mapped to a confidence in [0, 1] where `THRESHOLD_RAW` maps to 0.5; `search()` returns [] when the
best confidence is below 0.5. Weights and threshold were tuned on the dev split of bench/faq_eval.jsonl and on
cross-validation over the entries' own example questions (never on the test split).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Category", "Entry", "FaqIndex", "Hit", "default_index", "skeleton", "tokens", "DEFAULT_PATH"]

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "faq.json"
LANGS = ("kk", "ru")

# --- normalisation ------------------------------------------------------------------------------------------------

# Latin digraphs of informal transliteration (and the 2017 apostrophe alphabet) first, then single letters.
_LATIN_DIGRAPHS = (
    ("shch", "ш"), ("sch", "ш"), ("sh", "ш"), ("ch", "ч"), ("zh", "ж"), ("kh", "х"), ("gh", "г"),
    ("s'", "ш"), ("c'", "ч"), ("g'", "г"), ("n'", "н"), ("a'", "а"), ("o'", "о"), ("u'", "у"), ("i'", "и"),
)
_CHAR_MAP = {
    # Latin (incl. the 2021 Kazakh alphabet and a few look-alikes)
    "a": "а", "ä": "а", "á": "а", "à": "а", "â": "а", "b": "б", "c": "тс", "ç": "ч", "d": "д", "e": "е", "é": "е",
    "è": "е", "f": "ф", "g": "г", "ğ": "г", "ǵ": "г", "h": "х", "ı": "и", "i": "и", "í": "и", "j": "ж", "k": "к",
    "l": "л", "m": "м", "n": "н", "ñ": "н", "ń": "н", "o": "о", "ö": "о", "ó": "о", "p": "п", "q": "к", "r": "р",
    "s": "с", "ş": "ш", "t": "т", "u": "у", "ū": "у", "ü": "у", "ú": "у", "v": "в", "w": "у", "x": "х", "y": "и",
    "ý": "и", "z": "з",
    # Kazakh-specific Cyrillic folded to Russian look-alikes, and Russian letters folded together
    "ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "һ": "х", "і": "и", "ы": "и", "й": "и",
    "ё": "е", "э": "е", "щ": "ш", "ц": "тс", "я": "иа", "ю": "иу", "ъ": "", "ь": "",
}
_TRANS = str.maketrans({k: v for k, v in _CHAR_MAP.items()})
_NON_WORD = re.compile(r"[^0-9а-я]+")
_REPEATS = re.compile(r"([а-я])\1+")


def skeleton(text: str) -> str:
    """Fold any Kazakh/Russian/Latin text into the single Cyrillic skeleton used for matching."""
    s = text.lower().replace("i\u0307", "i")  # "İ".lower() leaves a combining dot
    s = s.replace("’", "'").replace("`", "'").replace("ʼ", "'")
    for a, b in _LATIN_DIGRAPHS:
        if a in s:
            s = s.replace(a, b)
    s = s.translate(_TRANS)
    s = _NON_WORD.sub(" ", s)
    s = _REPEATS.sub(r"\1", s)
    return " ".join(s.split())


# Function words with no topical meaning (already in skeleton form). Kept short: IDF does the rest.
_STOP = frozenset(
    skeleton(w)
    for w in (
        "и а но или ли же бы в во на по с со к ко у о об от до за из при про для под над это этот эта то как "
        "что где когда мне меня мой моя мою мои я ты вы мы он она они его ее их там тут вот так уже еще ну "
        "пожалуйста подскажите скажите подскажи скажи здравствуйте привет "
        "және мен бен пен да де та те ма ме ба бе па пе ғой қой ғана тек бұл осы сол ол мен сен сіз біз "
        "менің сенің сіздің маған оған бар жоқ ғой өтінемін айтыңызшы сәлеметсіз"
    ).split()
) - {"", "бар", "жок"}


# Concepts shared by both languages (and by digits and number words): a word that matches a concept also yields
# the concept token "#name", so "жалоба 5 жұмыс күні" meets "шағым бес жұмыс күні ішінде". Written in normal
# spelling and folded at import. "=" marks whole words, the rest are stems (prefixes).
_CONCEPTS_SRC = {
    "complaint": "жалоб жалов жалуют жалуюсь обжал шағым",
    "work": "рабоч жұмыс",
    "day": "=день =дня =дней =дни =күн =күні =күнде =күнге =күннен =күнінен =күндері =күндік",
    "n5": "=5 =пять =пяти =бес",
    "n15": "=15 =пятнадцать =пятнадцати",
    "n3": "=3 =три =трех =трёх =үш",
    "n10": "=10 =десять =десяти =он",
    "month": "=месяц =месяца =месяцев =ай =айдан =айда =айға",
    "court": "суд =сот =сотқа =сотта =соттың =сотқа дейінгі",
    "rude": "груб хам нахам дөрекі накрич айғай әдепсіз сыпайы",
    "con": "цон =хқко ",
    "iin": "=иин =жсн",
    "bin": "=бин =бсн",
    "eds": "эцп эцқ",
    "agency": "агенств агентств агенттік",
    "extend": "продл ұзарт",
    "notify": "уведом извест сообщ хабарла",
    "term": "срок мерзім",
    "anon": "аноним жасырын",
    "lang": "язык =тіл =тілі =тілде =тілінде",
    "langname": "казахск қазақша русск орысша английск ағылшын",
    "disabled": "инвалид мүгедек пандус коляск арбада маломобил",
    "online": "онлайн интернет egov eotinish егов портал",
    "status": "статус мәртебе",
    "paper": "бумаж бумаг қағаз",
    "rights": "=права =право =прав =правах құқық",
    "duty": "обязан міндет",
    "suggest": "предлож ұсыныс отзыв пікір идея идею идеям",
    "bot": "=бот =бота =ботом =боту =ботқа =ботты =боттың",
    "phone": "звон позвон телефон қоңырау",
    "accept": "принят принима приня приём прием қабылда",
    "register": "регистр тіркел тіркеу",
    "answer": "ответ жауап",
    "result": "результат нәтиже",
    "weekend": "выходн суббот воскрес праздн демалыс сенбі жексенбі мереке",
    "doc": "документ құжат справк анықтама",
    "staff": "должност лауазым чиновн шенеунік сотрудн қызметкер работни оператор",
    "howmany": "сколько неше қанша",
    "where": "куда қайда",
    "refuse": "отказ =бас тартт тартып тарту",
    "forward": "пересл переправ перенаправ жолда",
}


def _fold_concepts() -> tuple[dict[str, str], dict[str, str]]:
    exact: dict[str, str] = {}
    prefix: dict[str, str] = {}
    for name, words in _CONCEPTS_SRC.items():
        for w in words.split():
            if w.startswith("="):
                for part in skeleton(w[1:]).split():
                    exact[part] = "#" + name
            else:
                prefix[skeleton(w)] = "#" + name
    return exact, prefix


_CONCEPT_EXACT, _CONCEPT_PREFIX = _fold_concepts()
_CONCEPT_PREFIX_LENS = sorted({len(p) for p in _CONCEPT_PREFIX}, reverse=True)


def _concept(word: str) -> str | None:
    c = _CONCEPT_EXACT.get(word)
    if c is not None:
        return c
    for n in _CONCEPT_PREFIX_LENS:
        if n <= len(word):
            c = _CONCEPT_PREFIX.get(word[:n])
            if c is not None:
                return c
    return None


def tokens(text: str, concepts: bool = True) -> list[str]:
    """Skeleton tokens of a text: stop words and short words dropped, numbers kept, concept tokens appended."""
    out = []
    extra = []
    for t in skeleton(text).split():
        keep = t.isdigit() or (len(t) >= 3 and t not in _STOP)
        if keep:
            out.append(t)
        if concepts and (keep or t in _CONCEPT_EXACT):
            c = _concept(t)
            if c is not None and c not in extra:
                extra.append(c)
    return out + extra


def _trigrams(text: str) -> frozenset[str]:
    grams: set[str] = set()
    for w in tokens(text, concepts=False):
        p = f" {w} "
        grams.update(p[i : i + 3] for i in range(len(p) - 2))
    return frozenset(grams)


def _lcp(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _osa(a: str, b: str) -> int:
    """Optimal-string-alignment distance (Levenshtein with adjacent transpositions); inputs are short."""
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return 2
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        ai = a[i - 1]
        for j in range(1, lb + 1):
            cost = 0 if ai == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ai == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        prev2, prev = prev, cur
    return prev[lb]


def _deletes(s: str) -> set[str]:
    return {s} | {s[:i] + s[i + 1 :] for i in range(len(s))}


def word_similarity(q: str, t: str) -> float:
    """Similarity of two skeleton words in [0, 1]: exact, shared stem (prefix), or one typo in the first letters."""
    if q == t:
        return 1.0
    if q.isdigit() or t.isdigit():
        return 0.0
    lq, lt = len(q), len(t)
    m, big = (lq, lt) if lq <= lt else (lt, lq)
    lcp = _lcp(q, t)
    if lcp == m:  # one is a prefix of the other: an ending was added
        if m >= 4 or big - m <= 2:
            return max(0.6, 0.95 - 0.35 * (big - m) / big)
        return 0.0
    if lcp >= 4 and lcp >= m - 2:  # same stem, different endings (жалобу / жалобы, срока / сроки)
        return 0.6 + 0.25 * lcp / m
    if lcp >= 5:
        return 0.55 + 0.2 * lcp / m
    if m >= 4:
        a, b = q[:7], t[:7]
        if _osa(a, b) <= 1 or _osa(q[:6], t[:6]) <= 1 and min(lq, lt) >= 6:
            return 0.62 if m >= 5 else 0.56
    return 0.0


# --- data model -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    id: str
    score: float


@dataclass(frozen=True)
class Category:
    id: str
    title: dict[str, str]


@dataclass(frozen=True)
class Entry:
    id: str
    category: str
    title: dict[str, str]
    answer: dict[str, str]
    questions: dict[str, list[str]]
    source: str = ""


@dataclass
class _Unit:
    entry: int
    lang: str
    words: tuple[int, ...]  # vocabulary ids (distinct)
    idf_sum: float
    n_grams: int


# Blend weights and threshold (raw score space). Tuned on the dev split and on cross-validation over the entries'
# example questions; see bench/faq_bench.py.
W_UNIT = 0.35
W_ENTRY = 0.45
W_TRI = 0.20
UNIT_PRECISION = 0.6  # unit match = 0.6 * (query covered) + 0.4 * (unit covered)
ANSWER_FACTOR = 0.75  # answer words count at this similarity for entry coverage
UNKNOWN_IDF = 3.0  # weight of a query word found nowhere in the knowledge base
OTHER_LANG = 0.97  # units in the other language than the hinted one
THRESHOLD_RAW = 0.38
MIN_WORD_SIM = 0.55
MIN_MASS = 4.5
CONCEPT_WEIGHT = 0.5  # a concept token repeats evidence of its word: half weight


def _confidence(raw: float) -> float:
    """Monotone map of the raw blend to [0, 1] with THRESHOLD_RAW -> 0.5."""
    raw = min(1.0, max(0.0, raw))
    if raw < THRESHOLD_RAW:
        return 0.5 * raw / THRESHOLD_RAW
    return 0.5 + 0.5 * (raw - THRESHOLD_RAW) / (1.0 - THRESHOLD_RAW)


@dataclass
class FaqIndex:
    version: int
    _categories: list[Category]
    _entries: list[Entry]
    _by_id: dict[str, int] = field(default_factory=dict)
    _vocab: dict[str, int] = field(default_factory=dict)
    _words: list[str] = field(default_factory=list)
    _idf: list[float] = field(default_factory=list)
    _units: list[_Unit] = field(default_factory=list)
    _postings: list[list[int]] = field(default_factory=list)  # word id -> unit ids
    _entry_words: list[list[tuple[int, float]]] = field(default_factory=list)  # word id -> [(entry, factor)]
    _prefix: dict[str, list[int]] = field(default_factory=dict)
    _prefix3: dict[str, list[int]] = field(default_factory=dict)
    _dels: dict[str, list[int]] = field(default_factory=dict)
    _gram_postings: dict[str, list[int]] = field(default_factory=dict)
    _match_cache: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)

    # --- construction ---------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path | None = None) -> "FaqIndex":
        p = Path(path) if path is not None else DEFAULT_PATH
        with p.open(encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    @classmethod
    def from_dict(cls, data: dict) -> "FaqIndex":
        cats = [Category(id=c["id"], title=dict(c["title"])) for c in data.get("categories", [])]
        entries = [
            Entry(
                id=e["id"],
                category=e["category"],
                title=dict(e["title"]),
                answer=dict(e["answer"]),
                questions={k: list(v) for k, v in e["questions"].items()},
                source=e.get("source", ""),
            )
            for e in data["entries"]
        ]
        idx = cls(version=int(data.get("version", 1)), _categories=cats, _entries=entries)
        idx._build()
        return idx

    def _wid(self, w: str) -> int:
        i = self._vocab.get(w)
        if i is None:
            i = self._vocab[w] = len(self._words)
            self._words.append(w)
            self._postings.append([])
            self._entry_words.append([])
        return i

    def _build(self) -> None:
        self._by_id = {e.id: i for i, e in enumerate(self._entries)}
        if len(self._by_id) != len(self._entries):
            raise ValueError("duplicate FAQ entry ids")
        unit_texts: list[tuple[int, str, str]] = []
        for ei, e in enumerate(self._entries):
            for lang in LANGS:
                if e.title.get(lang):
                    unit_texts.append((ei, lang, e.title[lang]))
                for q in e.questions.get(lang, []):
                    unit_texts.append((ei, lang, q))
        # document frequency over entries (questions, titles, answers)
        entry_best: list[dict[int, float]] = [dict() for _ in self._entries]
        for ei, _lang, text in unit_texts:
            for w in tokens(text):
                entry_best[ei][self._wid(w)] = 1.0
        for ei, e in enumerate(self._entries):
            for lang in LANGS:
                for w in tokens(e.answer.get(lang, "")):
                    wid = self._wid(w)
                    entry_best[ei].setdefault(wid, ANSWER_FACTOR)
        n = len(self._entries)
        df = [0] * len(self._words)
        for ei, best in enumerate(entry_best):
            for wid, f in best.items():
                df[wid] += 1
                self._entry_words[wid].append((ei, f))
        self._idf = [math.log((n - d + 0.5) / (d + 0.5) + 1.0) for d in df]
        # units
        for ei, lang, text in unit_texts:
            wids = tuple(dict.fromkeys(self._vocab[w] for w in tokens(text)))
            grams = _trigrams(text)
            ui = len(self._units)
            self._units.append(_Unit(ei, lang, wids, sum(self._idf[w] for w in wids) or 1.0, len(grams)))
            for w in wids:
                self._postings[w].append(ui)
            for g in grams:
                self._gram_postings.setdefault(g, []).append(ui)
        # candidate generators for fuzzy word matching
        for wid, w in enumerate(self._words):
            if w.isdigit() or w.startswith("#"):
                continue
            key = w[:4] if len(w) >= 4 else w
            self._prefix.setdefault(key, []).append(wid)
            self._prefix3.setdefault(w[:3], []).append(wid)
            if len(w) >= 4:
                for s in _deletes(w[:6]) | _deletes(w[:7]):
                    self._dels.setdefault(s, []).append(wid)
        for lst in [*self._prefix.values(), *self._prefix3.values(), *self._dels.values()]:
            lst[:] = sorted(set(lst))
        # precompute the matches of every known word (queries mostly consist of these)
        for w in self._words:
            self._match_cache[w] = self._compute_matches(w)

    # --- word matching --------------------------------------------------------------------------------------------

    def _compute_matches(self, q: str) -> tuple[tuple[int, float], ...]:
        if q.isdigit() or q.startswith("#"):
            wid = self._vocab.get(q)
            return ((wid, 1.0),) if wid is not None else ()
        cand: set[int] = set()
        if len(q) >= 4:
            cand.update(self._prefix.get(q[:4], ()))
            for s in _deletes(q[:6]) | _deletes(q[:7]):
                cand.update(self._dels.get(s, ()))
        else:
            cand.update(self._prefix3.get(q, ()))
        out = []
        for wid in cand:
            s = word_similarity(q, self._words[wid])
            if s >= MIN_WORD_SIM:
                out.append((wid, s))
        return tuple(out)

    def _matches(self, q: str) -> tuple[tuple[int, float], ...]:
        m = self._match_cache.get(q)  # every word of the knowledge base is precomputed at load
        return m if m is not None else self._compute_matches(q)

    # --- search ---------------------------------------------------------------------------------------------------

    def raw_scores(self, query: str, lang: str | None = None) -> dict[int, float]:
        """Raw blended score per entry index (only entries with any evidence)."""
        qtoks = list(dict.fromkeys(tokens(query)))
        if not qtoks:
            return {}
        idf = self._idf
        units = self._units
        weights: list[float] = []
        per_tok: list[list[tuple[int, float]]] = []
        for q in qtoks:
            m = self._matches(q)
            per_tok.append(list(m))
            if m:
                best = max(s for _, s in m)
                w = max(idf[w] for w, s in m if s == best)
                if best < 0.75:  # only a typo-level match: weak evidence, the word still weighs as unknown
                    w = max(w, UNKNOWN_IDF)
                weights.append(w * (CONCEPT_WEIGHT if q.startswith("#") else 1.0))
            else:
                weights.append(UNKNOWN_IDF)
        # A query made only of very common words ("можно ли подать жалобу") must not look like a perfect match:
        # normalise by at least MIN_MASS of IDF.
        wsum = max(sum(weights), MIN_MASS)

        unit_prec: dict[int, float] = {}
        unit_rec: dict[int, float] = {}
        entry_cov: dict[int, float] = {}
        for wt, m in zip(weights, per_tok):
            if not m:
                continue
            ubest: dict[int, tuple[float, float]] = {}
            ebest: dict[int, float] = {}
            for wid, s in m:
                wi = idf[wid]
                for ui in self._postings[wid]:
                    cur = ubest.get(ui)
                    if cur is None or s > cur[0]:
                        ubest[ui] = (s, wi)
                for ei, f in self._entry_words[wid]:
                    v = s * f
                    if v > ebest.get(ei, 0.0):
                        ebest[ei] = v
            for ui, (s, wi) in ubest.items():
                unit_prec[ui] = unit_prec.get(ui, 0.0) + wt * s
                unit_rec[ui] = unit_rec.get(ui, 0.0) + wi * s
            for ei, v in ebest.items():
                entry_cov[ei] = entry_cov.get(ei, 0.0) + wt * v

        qgrams = _trigrams(query)
        gram_hits: dict[int, int] = {}
        for g in qgrams:
            for ui in self._gram_postings.get(g, ()):
                gram_hits[ui] = gram_hits.get(ui, 0) + 1
        nq = len(qgrams)

        unit_score: dict[int, float] = {}
        tri_score: dict[int, float] = {}
        for ui, p in unit_prec.items():
            u = units[ui]
            rec = min(1.0, unit_rec[ui] / u.idf_sum)
            v = UNIT_PRECISION * (p / wsum) + (1.0 - UNIT_PRECISION) * rec
            if lang is not None and u.lang != lang:
                v *= OTHER_LANG
            if v > unit_score.get(u.entry, 0.0):
                unit_score[u.entry] = v
        for ui, c in gram_hits.items():
            u = units[ui]
            v = 2.0 * c / (nq + u.n_grams)
            if lang is not None and u.lang != lang:
                v *= OTHER_LANG
            if v > tri_score.get(u.entry, 0.0):
                tri_score[u.entry] = v

        out: dict[int, float] = {}
        for ei in set(unit_score) | set(tri_score) | set(entry_cov):
            out[ei] = (
                W_UNIT * unit_score.get(ei, 0.0)
                + W_ENTRY * min(1.0, entry_cov.get(ei, 0.0) / wsum)
                + W_TRI * tri_score.get(ei, 0.0)
            )
        return out

    def search(self, query: str, lang: str | None = None, limit: int = 3) -> list[Hit]:
        """Best matching entries, best first; [] when the best confidence is below 0.5 (out of scope)."""
        if limit <= 0 or not query or not query.strip():
            return []
        raw = self.raw_scores(query, lang)
        if not raw:
            return []
        ranked = sorted(raw.items(), key=lambda kv: (-kv[1], kv[0]))
        best = ranked[0][1]
        if best < THRESHOLD_RAW:
            return []
        hits = []
        for ei, r in ranked[:limit]:
            if hits and r < 0.6 * best:
                break
            hits.append(Hit(self._entries[ei].id, round(_confidence(r), 4)))
        return hits

    # --- access ---------------------------------------------------------------------------------------------------

    def entry(self, id: str) -> Entry:
        return self._entries[self._by_id[id]]

    def entries(self) -> list[Entry]:
        return list(self._entries)

    def ids(self) -> list[str]:
        return [e.id for e in self._entries]

    def categories(self) -> list[Category]:
        return list(self._categories)

    def entries_in(self, category_id: str) -> list[Entry]:
        return [e for e in self._entries if e.category == category_id]


_DEFAULT: FaqIndex | None = None


def default_index() -> FaqIndex:
    """The index of the packaged bot/data/faq.json, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = FaqIndex.load()
    return _DEFAULT
