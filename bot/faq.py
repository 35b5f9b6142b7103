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

Words carry weights: generic words (question words, "to be", pronouns, "today") weigh little on both sides; a word
that names a public service ("паспорт", "пособие") or has a concept token is no evidence against an entry even
when the knowledge base never uses it; a negated question ("не ответили", "бермеді": concept "#not") scores less
against a question that is not negated. A query is out of scope when half or more of its topical words are unknown
and none is about complaints (`_off_topic`), or when its best blend is below `THRESHOLD_RAW`; a greeting or thanks
(`small_talk`) is never searched.

The blend is mapped to a confidence in [0, 1] where `THRESHOLD_RAW` maps to 0.5; `search()` returns [] when the
best confidence is below 0.5. Weights and threshold were tuned on the dev split of bench/faq_eval.jsonl only; its
test split and bench/faq_heldout.jsonl (written before this tuning) are held out.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = ["Category", "Entry", "FaqIndex", "Hit", "default_index", "skeleton", "small_talk", "tokens", "DEFAULT_PATH"]

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


# Generic words: question words, "to be", "can", "know", "today"... They carry no topic, so they weigh little on
# both sides (in a query and in the knowledge base): "какой фильм посмотреть" must not look like a question about
# tracking a complaint because "посмотреть" happens to be rare in the knowledge base.
_GENERIC = frozenset(
    skeleton(w)
    for w in (
        "какой какая какое какие каким каких кто кого кому такое такой такие этот эта эти был была было были будет "
        "есть нет нужно надо должен должна должны смотреть посмотреть узнать знать сказать делать сделать делает "
        "делают делаешь дела дело "
        "сегодня завтра вчера сейчас теперь очень много мало стоит хочу хотел можешь могу может почему зачем просто "
        "вообще тоже также всегда тогда потом быть "
        "қандай кім кімге нені неге қашан қалай керек бола болады болды болса болып бүгін ертең кеше қазір енді өте "
        "көп аз тұрады айтшы айтыңыз білу білемін білгім деген дегеніміз дегенді осы сол мына өзі өзім "
        "аламын аласыз алады береді болмайды "
        # everyday words of any message: pronouns, numbers, "give", "come", "again", "already", "against"...
        "хочу хочет хотим хотят хотела могу может можем могут дать дали дают дал дала сделали сделал делают "
        "пришел пришла прийти пришло идти иду пошел ходил ходила уже еще ещё опять снова там тут здесь туда сюда "
        "щас тогда потом после против через только тока ваще почему зачем мой моя мою мои моей моего свой своя свою "
        "его её их наш ваш меня мне мной нам вам ему ей них всё все всех весь вся каждый любой другой другая другое "
        "новый хороший плохой большой нельзя один одна два две три первый второй третий третью "
        "менің сенің сіздің оның біздің маған саған оған бізге мені сені сізді оны бізді тағы әлі бұрын кейін соң "
        "туралы бойынша арқылы шейін иә бір екі үш төрт келді барды кетті айтты берді алды жасады істеді тұр жатыр "
        "отыр жүр келеді барады кетеді"
    ).split()
)
GENERIC_IDF = 0.4

# Concepts that make a query about complaints whatever else it says ("#complaint": жалоба / шағым, ...).
_ANCHORS = frozenset(
    "#" + c
    for c in "complaint court iin bin con eds sms agency anon extend refuse rude disabled online forward term service".split()
)


# Small talk: a message made only of a greeting (or of thanks), in either language, any spelling. It is not a
# question: the bot answers it with its menu, and the search finds nothing in it.
_GREETING_WORDS = frozenset(skeleton(w) for w in (
    "привет приветствую здравствуйте здравствуй здрасте здрасьте добрый доброе доброго день утро вечер салам салем "
    "сәлем сәлеметсіз сәлеметсіздер ассалаумағалейкум ассаламуалейкум ассаламағалейкум уағалейкумассалам қайырлы "
    "күн таң кеш hi hello hey хай хелло құтты болсын мерекеңіз поздравляю новым годом праздником жаңа жыл"
).split())
_GREETING_CORE = frozenset(skeleton(w) for w in (
    "привет приветствую здравствуйте здравствуй здрасте здрасьте добрый доброе доброго салам салем сәлем сәлеметсіз "
    "сәлеметсіздер ассалаумағалейкум ассаламуалейкум ассаламағалейкум уағалейкумассалам қайырлы hi hello hey хай хелло "
    "құтты поздравляю годом праздником"
).split())
_THANKS_WORDS = frozenset(skeleton(w) for w in (
    "спасибо спс благодарю большое огромное рақмет рахмет көп үлкен thanks thank you"
).split())
_THANKS_CORE = frozenset(skeleton(w) for w in "спасибо спс благодарю рақмет рахмет thanks thank".split())
# words that may come with either without making it a question ("привет, бот, как дела?")
_TALK_FILLER = frozenset(skeleton(w) for w in (
    "как дела ты вы бот шагым шағым shagym қалайсыз қалайсың қалың жағдай бе ба ма ме и және вам тебе сізге саған с со"
).split())


def small_talk(text: str) -> str | None:
    """``"greeting"`` or ``"thanks"`` when the message is nothing else (any language or spelling), else None."""
    words = skeleton(text).split()
    if not words or len(words) > 6:
        return None
    for kind, vocab, core in (("greeting", _GREETING_WORDS, _GREETING_CORE), ("thanks", _THANKS_WORDS, _THANKS_CORE)):
        if any(w in core for w in words) and all(w in vocab or w in _TALK_FILLER for w in words):
            return kind
    return None


# Concepts shared by both languages (and by digits and number words): a word that matches a concept also yields
# the concept token "#name", so "жалоба 5 жұмыс күні" meets "шағым бес жұмыс күні ішінде". Written in normal
# spelling and folded at import. "=" marks whole words, the rest are stems (prefixes).
_CONCEPTS_SRC = {
    "complaint": "жалоб жалов жалуют жалуюсь пожалов пожалуют обжал шағым",
    "work": "рабоч жұмыс",
    "day": "=день =дня =дней =дни =күн =күні =күнде =күнге =күннен =күнінен =күндері =күндік",
    "n5": "=5 =пять =пяти =бес",
    "n15": "=15 =пятнадцать =пятнадцати",
    "n3": "=3 =три =трех =трёх =үш",
    "n10": "=10 =десять =десяти =он",
    "month": "=месяц =месяца =месяцев =ай =айдан =айда =айға",
    "court": "суд =сот =сотқа =сотта =соттың =сотқа дейінгі",
    "rude": "груб нагруб хам нахам дөрекі накрич наор орал орет кричал айғай айқай әдепсіз сыпайы",
    "con": "цон =хқко ",
    "iin": "=иин =жсн",
    "bin": "=бин =бсн",
    "eds": "эцп эцқ",
    "sms": "=смс =sms смск смсо смсу смсм",
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
    "howmany": "сколько сколко скока скоко сколька неше қанша",
    "where": "куда қайда",
    "refuse": "отказ =бас тартт тартып тарту",
    "forward": "пересл переправ перенаправ жолда",
    "wait": "недел апта долго давно жду ждем ждал ждала ждать күтіп күтем күттім ұзақ",
    "submit": "сдач сдат сдаю сдал сдаеш сдав тапсыр",
    "partial": "частичн наполовин неполн жартылай",
    # the services people name in their questions: in the domain even when the knowledge base never names them
    "service": "паспорт удостоверени прописк пособи пенси детсад садик справк выписк лиценз разрешени земельн "
               "участк техпаспорт автомобил машин водительск свидетельств брак рождени субсиди жиль квартир "
               "төлқұжат куәлік тіркеу жәрдемақы зейнетақы балабақша анықтама рұқсат жер учаске көлік автокөлік "
               "жүргізуші тууы неке тұрғын пәтер",
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


_FUZZY_STEMS = tuple((p, c) for p, c in _CONCEPT_PREFIX.items() if len(p) >= 5)


@lru_cache(maxsize=65536)
def _concept(word: str, fuzzy: bool = False) -> str | None:
    c = _CONCEPT_EXACT.get(word)
    if c is not None:
        return c
    for n in _CONCEPT_PREFIX_LENS:
        if n <= len(word):
            c = _CONCEPT_PREFIX.get(word[:n])
            if c is not None:
                return c
    # in a query, one typo in a long stem still names the concept ("аноимная" ~ "аноним", "жалба" ~ "жалоб")
    if fuzzy and len(word) >= 5 and not word.isdigit():
        for stem, c in _FUZZY_STEMS:
            n = len(stem)
            if any(_osa(word[:k], stem) <= 1 for k in (n - 1, n, n + 1) if k <= len(word)):
                return c
    return None


# Negation changes the question ("не ответили" is not "когда ответят"): a Russian negating word, or a Kazakh verb in
# the negative ("бермеді", "қарамай", "келмесе"), adds the concept "#not".
_NEGATIONS = frozenset(skeleton(w) for w in "не нет ни никто ничего никак игнор жоқ емес".split())
_KK_NEGATIVE = re.compile(r"(ма|ме|ба|бе|па|пе)(ди|ган|ген|и|са|се|ски|стан|стен|пти|пи|иди|иди)$")


def _negative(word: str) -> bool:
    return word in _NEGATIONS or (len(word) >= 6 and _KK_NEGATIVE.search(word) is not None)


def tokens(text: str, concepts: bool = True, *, fuzzy: bool = False) -> list[str]:
    """Skeleton tokens of a text: stop words and short words dropped, numbers kept, concept tokens appended
    (``fuzzy``: also for a word one typo away from a concept's stem; for queries, not for the knowledge base)."""
    out = []
    extra = []
    for t in skeleton(text).split():
        keep = t.isdigit() or (len(t) >= 3 and t not in _STOP)
        if keep:
            out.append(t)
        if concepts and (keep or t in _CONCEPT_EXACT):
            c = _concept(t, fuzzy)
            if c is not None and c not in extra:
                extra.append(c)
        if concepts and _negative(t) and "#not" not in extra:
            extra.append("#not")
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
    if lcp >= 4 and lcp >= m - 2 and big - lcp <= 4:  # same stem, other endings (жалобу / жалобы, срока / сроки)
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
    negative: bool = False  # the question is negated ("#not")


# Blend weights and threshold (raw score space). Tuned on the dev split and on cross-validation over the entries'
# example questions; see bench/faq_bench.py.
W_UNIT = 0.35
W_ENTRY = 0.35
W_TRI = 0.20
UNIT_PRECISION = 0.5  # unit match = 0.5 * (query covered) + 0.5 * (unit covered)
ANSWER_FACTOR = 0.75  # answer words count at this similarity for entry coverage
UNKNOWN_IDF = 2.5  # weight of a query word found nowhere in the knowledge base
OTHER_LANG = 0.97  # units in the other language than the hinted one
THRESHOLD_RAW = 0.36
MIN_WORD_SIM = 0.55
MIN_MASS = 3.5
CONCEPT_WEIGHT = 0.7  # a concept token repeats evidence of its word: less than full weight
NEGATION_MISMATCH = 0.8  # a negated query against a question that is not (or the other way round)


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
                    if w == "#not":  # negations in an explanation say nothing about the question it answers
                        continue
                    wid = self._wid(w)
                    entry_best[ei].setdefault(wid, ANSWER_FACTOR)
        n = len(self._entries)
        df = [0] * len(self._words)
        for ei, best in enumerate(entry_best):
            for wid, f in best.items():
                df[wid] += 1
                self._entry_words[wid].append((ei, f))
        self._idf = [math.log((n - d + 0.5) / (d + 0.5) + 1.0) for d in df]
        for w in _GENERIC:
            wid = self._vocab.get(w)
            if wid is not None:
                self._idf[wid] = min(self._idf[wid], GENERIC_IDF)
        # units
        for ei, lang, text in unit_texts:
            wids = tuple(dict.fromkeys(self._vocab[w] for w in tokens(text)))
            grams = _trigrams(text)
            ui = len(self._units)
            negative = "#not" in (self._words[w] for w in wids)
            self._units.append(_Unit(ei, lang, wids, sum(self._idf[w] for w in wids) or 1.0, len(grams), negative))
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
        qtoks = list(dict.fromkeys(tokens(query, fuzzy=True)))
        if not qtoks:
            return {}
        negative = "#not" in qtoks
        idf = self._idf
        units = self._units
        weights: list[float] = []
        per_tok: list[list[tuple[int, float]]] = []
        for q in qtoks:
            m = self._matches(q)
            per_tok.append(list(m))
            concept = None if q.startswith("#") else _concept(q, True)
            if q in _GENERIC or concept == "#service" or (
                concept is not None and not any(s >= 0.75 for _, s in m)
            ):  # no topic, a service's name, or a word whose concept token (added too) carries the evidence
                weights.append(GENERIC_IDF)
            elif m:
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
            if u.negative != negative:  # "не ответили" is a different question from "когда ответят"
                v *= NEGATION_MISMATCH
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

    def _off_topic(self, query: str) -> bool:
        """Half or more of the query's topical words are unknown to the knowledge base (a typo-level likeness does
        not count) and none of them is about complaints: "результаты матча", "футбол нәтижелері"."""
        toks = list(dict.fromkeys(tokens(query, fuzzy=True)))
        if any(t in _ANCHORS for t in toks):
            return False
        content = [t for t in toks if not t.startswith("#") and t not in _GENERIC]
        if not content:
            return False
        unknown = sum(1 for t in content if not any(s >= 0.75 for _, s in self._matches(t)))
        return 2 * unknown >= len(content)

    def search(self, query: str, lang: str | None = None, limit: int = 3) -> list[Hit]:
        """Best matching entries, best first; [] when the best confidence is below 0.5 (out of scope)."""
        if limit <= 0 or not query or not query.strip() or small_talk(query):
            return []
        if self._off_topic(query):
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
