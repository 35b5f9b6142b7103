"""FAQ search over bot/domain/data/faq.json (Kazakh / Russian): Python and numpy arrays.

No aiogram, no network, no models from elsewhere. The model the search reads (vocabulary, IDF, units, letter
trigrams, a naive-Bayes table and an averaged perceptron trained on the example questions) is built deterministically
from faq.json, the further example questions of bot/domain/data/faq_examples.json (the in-scope queries of bench/'s
labelled sets, written by other people than faq.json's examples: `python -m bench.faq_train`) and this module, and
kept in bot/domain/data/faq_index.json with a fingerprint of the three: loading reads it (a few hundredths of a second)
when it is current and builds it (a second or two) when it is not; `python -m bot.domain.faq` writes it again, and
tests/test_faq.py fails while it is stale.

Speed: a query costs about 0.2 ms of CPU at the median. Every unit is scored at once in numpy arrays (the letter
trigram overlap is one bincount, the unit match one bincount and a blend where a query word matched, each per-entry
maximum one reduceat over the units numbered in entry order); what a query word brings (its matches, weight, per-unit
terms, per-entry coverage, naive-Bayes gain and perceptron score in one array, letter trigrams) does not depend on the
rest of the query and is computed once per word, in a bounded cache (WORD_CACHE_SIZE); the query is folded, its
tokens found and its phrase lists looked up (`_PhraseLists`) once per search. No whole query's result is cached. The
fast paths add in the order the plain loops did: the results are the same to the last bit (tests/test_faq_fast.py).

How matching works
------------------
Every text (query, example question, title, answer) is folded into one Cyrillic "skeleton" (`skeleton()`):
lower case; Latin transliterated to Cyrillic (the 2021 Kazakh Latin alphabet: ş ğ ı ä ö ü ū q ñ j …, and informal
spellings: sh zh ch kh, "qalay", "zhauap"); Kazakh-specific letters folded into their Russian look-alikes
(ә→а, ғ→г, қ→к, ң→н, ө→о, ұ/ү→у, һ→х, і→и) plus ы/й→и, ё/э→е, щ→ш, ц→тс, я→иа, ю→иу, soft/hard signs dropped and
doubled letters collapsed. So "şağym", "shagym", "шагым" and "шағым" are the same word here, and so are a Kazakh
word typed with Russian letters and the real one.

Tokens: the skeleton's words (stop words dropped) plus concept tokens shared by both languages and by spellings
("#complaint" for жалоба / шағым / обжаловать, "#court" for суд / сот / иск / талап арыз, "#legal" for ТОО / ЖШС,
...), phrase concepts for what a question asks ("#who", "#where", "#why", "#define": "что такое", "деген не"; "#can",
"#must", "#write") and for a disagreement ("не согласен", "ұнамады": no negation), and "#not" for a negated question
(Russian "не ..." before a word; Kazakh negative verbs; Kazakh "не" is "what"). A query word the knowledge base does
not know gets a concept also by one typo past its first two letters ("жалба" ~ "#complaint").

A query is scored against every entry with these signals:

* unit match — for each example question, the title and each sentence of the answer (at `ANSWER_UNIT`) ("units",
  both languages), an IDF-weighted soft match of the query words against the unit's words (precision over the query
  blended with recall over the unit); the best unit counts. Words match exactly, by a shared stem followed by
  Kazakh or Russian endings (`is_ending`, a light stemmer: "шағымымды" ~ "шағым", "жалобу" ~ "жалобы", but "қасық"
  is no "кәсіпкер") or within one edit on their first 6-7 letters (typos), with decreasing similarity;
* entry coverage — how much of the query (IDF-weighted) the entry's whole vocabulary covers (questions, titles and,
  at a discount, the answer texts);
* character trigrams — Dice overlap between the query's and each unit's letter trigrams (typos, glued or split
  words); the best unit counts;
* a naive-Bayes posterior over the entries (word counts of their questions and, less, answers), and an averaged
  perceptron trained at load on the example questions, which only lowers the entries it finds less likely than its
  best: both tell close siblings apart ("срок у услугодателя" / "срок в Агентстве" / "продление");
* an entry's defining concepts (in most of its questions, rare elsewhere: "#court" for court) lower its score a
  little when the query names none of them.

Words carry weights: generic words (question words, "to be", pronouns, "today") weigh little on both sides; a word
that names a public service ("паспорт", "пособие") or has a concept token is no evidence against an entry even
when the knowledge base never uses it; a negated question scores less against a question that is not negated.

Out of scope (`search()` returns []): a greeting or thanks (`small_talk`), an acknowledgement ("ок, понятно"); a
query about an everyday topic (`about_else`: weather, sport, food, money, travel, entertainment, inheritance, ...;
its whole words also with endings: "визаның") that names no public service, authority or term of the procedure (or
"complaint" with a term of the procedure); the price of anything but a complaint; a query that names nothing of the
domain (`_in_domain`: no concept of the procedure, no word of public services, authorities, their papers or a problem)
unless its best blend reaches NO_DOMAIN_RAW (NO_DOMAIN_UNKNOWN_RAW when it also has a word the knowledge base does not
know: "на каком языке говорят в Японии"); a question how to obtain a service (its price, papers, hours)
that says nothing of a problem; a best blend below `THRESHOLD_RAW`; a query half of whose topical words are unknown
and whose best blend is weak (`_off_topic`); a best entry barely above the threshold that does not lead the next
one (the margin rule); a lone word that several entries share about equally ("срок", "құжат": a topic, no question).
An entry may list in faq.json what it does not answer though its words are near ("outside": the bot's price or hours
for `bot_help`, a disability group for `disabled_access`, translating a word for `language_of_complaint`): a query
naming one of them scores that entry at OUTSIDE_FACTOR.

The blend is mapped to a confidence in [0, 1] where `THRESHOLD_RAW` maps to 0.5. Weights, thresholds and word lists
were tuned on the development sets of bench/ and on 5-fold cross-validation over the example questions; since
round 5 the main measure is leaving one labelled set (one writer and round) out of the further examples and searching
it (`python -m bench.faq_cv --by-set`).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, compress, repeat
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bot.domain.text import LANGUAGES as LANGS  # the one definition of the languages

__all__ = [
    "DEFAULT_PATH", "INDEX_PATH", "Category", "Entry", "FaqIndex", "Hit", "about_else", "default_index", "fingerprint",
    "precomputed_json", "skeleton", "small_talk", "tokens",
]

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "faq.json"
INDEX_PATH = DEFAULT_PATH.with_name("faq_index.json")  # the model built from it (`precomputed_json`)
# More example questions, matched like faq.json's own: the labelled in-scope queries of bench/'s sets, written by
# other people than faq.json's examples (`python -m bench.faq_train` writes it). Read from beside the faq.json loaded.
EXAMPLES_NAME = "faq_examples.json"
EXAMPLES_PATH = DEFAULT_PATH.with_name(EXAMPLES_NAME)
Examples = dict[str, dict[str, list[str]]]  # entry id -> language -> example questions
# the key of Examples under which the labelled sets' out-of-scope queries are (the "none of these" class, `_oos_model`)
OOS_KEY = "_none"

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
# every other character of the Latin and Cyrillic blocks maps to itself: `str.translate` finds each one in the table
# rather than missing it (0.8 us less per text)
_TRANS = {**{i: chr(i) for i in range(0x500)}, **str.maketrans({k: v for k, v in _CHAR_MAP.items()})}
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
    s = " ".join(map(_collapse, s.split()))
    for literal, rx, repl in _COMPOUNDS:
        if literal in s:  # no regex pass over a text without it: 2 us a text
            s = rx.sub(repl, s)
    return s


# Two words that name one thing, joined so that neither is read alone: "жұмыс беруші" (an employer) is no service
# provider ("беруші"), "соттылығы жоқ анықтама" (a certificate of no criminal record) says no "no" of a problem.
_COMPOUNDS = (  # (what any match contains, the pattern, its replacement)
    ("жумис беруши", re.compile(r"(?<![а-я0-9])жумис (беруши[а-я]*)"), r"жумис\1"),
    ("сотили", re.compile(r"(?<![а-я0-9])(сотили[а-я]*) жок[а-я]*"), r"\1"),
)


@lru_cache(maxsize=65536)
def _collapse(word: str) -> str:
    """Doubled letters collapse ("жалобба"), but not into a word of two letters ("ТОО" and "ООО" stay) nor at the start
    of a word, where they are no typo ("ИИН-а" keeps its "ии")."""
    c = word[0] + _REPEATS.sub(r"\1", word[1:]) if len(word) > 1 else word
    return word if len(c) < 3 else c


# Function words with no topical meaning (already in skeleton form). Kept short: IDF does the rest.
_STOP = frozenset(
    skeleton(w)
    for w in (
        "и а но или ли же бы в во на по с со к ко у о об от до за из при про для под над это этот эта то как "
        "што шо чо "
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
        "отыр жүр келеді барады кетеді "
        # function words and the participles of "do", "take", "be", "give", "come" that say nothing of a topic
        "даже сам сама сами само самой насчет насчёт моих моим моими твой твои кучу целый целая целую разве вообще "
        "её ее нее неё никому никого второй вторую вторая бірге тиісті еткен етеді етті етіп алатын болатын беретін "
        "келетін жасайтын істейтін "
        # reported speech and "all": "сказали, не положено", "барлық құжатым дұрыс"
        "сказал сказала сказали говорят говорит говорил говорила деп дейді барлық барлығы"
    ).split()
)
GENERIC_IDF = 0.4

# Concepts that make a query about complaints whatever else it says ("#complaint": жалоба / шағым, ...).
def _concept_names(names: str) -> frozenset[str]:
    return frozenset("#" + c for c in names.split())


def _stems(words: str) -> tuple[str, ...]:
    return tuple(skeleton(w) for w in words.split())


_ANCHORS = _concept_names(
    "complaint court iin bin con eds sms agency anon extend refuse rude disabled online forward term service"
)


# What a query is about when it is not about public services: everyday topics a chat bot is asked about (weather,
# sport, food, money and shopping, travel, entertainment, gadgets, learning, diet, trivia, neighbours, chit-chat).
# A word of these (or a phrase below) with no word naming a public service, an authority or the complaint procedure
# (`_SERVICE_ANCHORS`) makes the query out of scope even when it shares words with the knowledge base: "ағылшын тілін
# қалай үйренемін" is not about the language of a complaint, "жалоба на соседей" is not about a public service.
# Written in normal spelling and folded at import; "=" marks whole words, the rest are stems (prefixes).
_ABOUT_ELSE_SRC = {
    "weather": "погод =дождь дожд снег снеж =ветер ветрен температур градус прогноз мороз =ауа жаңбыр =қар =қары "
               "боран =аяз ыстық суық weather rain snow",
    "sport": "футбол хоккей баскетбол волейбол теннис =бокс боксер спорт матч чемпион турнир олимпиад =гол =голы "
             "сборн кайрат барселон =реал мадрид ойыншы ұпай =жеңді жеңіс жеңіп =ұтты =ұтып выиграл проиграл "
             "победил ничья football soccer hockey",
    "food": "рецепт приготов плов борщ бешбармак пицц =суши бургер шаурм салат =еда яблок банан жеміс фрукт "
            "завтрак ресторан мейрамхана =кафе доставк пісір тамақ =асқа сорпа палау молок =сүт =сүттің "
            "=манты сварит йогурт кефир кумыс қымыз шұбат ірімшік колбас =хлеб =нан конфет шоколад recipe pizza",
    "money": "=курс =курса =курсы доллар =евро рубл биткоин крипт купить куплю покупк =продать сатып =сату =сатуға =сатамын =бағам бағамы "
             "депозит подписк жазылым яндекс "
             "=цена =цены айфон iphone смартфон ноутбук samsung самсунг кредит ипотек несие "
             "банкомат зарплат жалақы скидк маркетплейс kaspi каспи wildberries вайлдберриз "
             "тапсырыс заработ =қарыз қарызд =деньги =денег =деньгами =ақша =ақшаны =продам сатамын",
    "travel": "=билет =билеты =билета =билетов билетт поезд пойыз самол ұшақ =рейс авиабилет автобус =такси таксиг "
              "таксист вокзал аэропорт отель гостиниц путешеств саяхат расписан кестес багаж =жүгімді",
    "fun": "фильм =кино киноға сериал мультик музык =песня =песню песен песни =ән =әні =әнді әнші =книга =книгу "
           "=книги книгу кітап анекдот шутк әзіл кроссворд сөзжұмбақ жұмбақ загадк ребус ертегі ertegi сказк =игра =игры =игру игрушк ойнағ =ойын ойындар "
           "ойнайм стих өлең гороскоп жорамал котик =кот =коты кошк собак мысық =ит =иттер тикток tiktok инстаграм "
           "instagram ютуб youtube netflix нетфликс спотифай spotify",
    "diet": "похуд диет арықта калори спортзал тренировк фитнес",
    "trivia": "президент столиц планет космос вселенн динозавр америк =сша =ақш турци европ",
    "neighbours": "сосед көрші =шум шумят шулайд шулап",
    # papers of private life and work, careers in the civil service
    "papers": "резюме түйіндеме доверенност сенімхат =договор =договора =договору =договоре =шартқа =шартты "
              "=шартына =шартын аренд жалдау",
    "career": "тестирован тестілеу вакансии =вакансия устроиться орналас отпуск больничн уволи увольн",
    # utilities at home: water, power, heating, gas
    "utilities": "=вода =воды =воду =водой =су =суы электричеств электроэнерг =свет =света отоплен =газ =газа "
                 "=газы жылу =жарық =жарығы =жарықты",
    "love": "любов махаббат свидан знакомств",  # not "девушка": the clerk at the window
    "health": "болит болел =ауырады ауырып лекарств таблетк =дәрі =дәрісі врач врачу дәрігер поликлиник емхан "
              "больниц аурухан =скорая =скорой =скорую пожарн =өрт",
    # talk about the bot, not a question to it
    "chat": "тупой тупая дурак дура идиот глуп ақымақ =жынды умный ақылды ненавиж",
    # other state matters: no complaint about a public service unless one is named with a problem
    "state": "=виза =визу =визы =визе =визаны =визасы визасын ықтиярхат налог =салық =салығы =салығын штраф "
             "айыппұл наследств =мұра мұрагер =выборы =выборов =выборах сайлау депутат маслихат мәслихат парламент =армия =армию =армии әскер "
             "призыв =ент =ұбт экзамен емтихан гражданств",
}
# Softer topics: a query about them is out of scope unless it also names a complaint ("скачать образец жалобы",
# "жалобу на английском").
_ABOUT_ELSE_SOFT_SRC = {
    "gadget": "скачат компьютер ноутбук вайфай wifi орнату орнатам жүктей жүктеу пароль құпиясөз",
    "learn": "выучит =учить =учиться үйрен =урок =уроки сабақ репетитор университет =вуз =вуза =вузе =вузы "
             "абитуриент красив әдемі =перевести переведи =аудар аударып "
             "translate",
}
# Complaints that are not about a public service: the police, banks, shops, housing management, private businesses
# and employers. Out of scope unless the query also names a public service, an authority or the bot ("бот передает
# мои данные в банк?" stays).
_ELSEWHERE_SRC = {
    "elsewhere": "полиц полицейск участков учаскелік =банк =банка =банке =банку банков магазин дүкен супермаркет "
                 "=кск =жкх =оси управляющ провайдер курьер авиакомпан авиалини застройщик работодател начальник "
                 "бастығым =бастық бастықт нотариус арендодател хозяин =кафе салон аптек дәріхана страхов сақтандыр микрокредит микроқарж =мфо "
                 "коллектор автосервис продав продаве сатушы официант",
}
# The same in two words ("жұмыс беруші", joined by `skeleton`, is an employer, not a service provider).
_ELSEWHERE_PHRASES = (
    "жұмысберуші", "пәтер иесі", "үй иесі", "құрылыс компания", "әуе компания", "мобильный оператор",
    "сотовый оператор", "ұялы байланыс", "интернет магазин", "управляющая компания",
    # a residence permit: a matter of the migration police unless a service or an IIN is named with it
    "вид на жительство", "вид на жительства",
)
# The calendar itself: months, moved days off ("сколько рабочих дней в марте", "перенос выходных"). Out of scope
# unless the query names something of the domain besides days, numbers and holidays ("справку обещали к 10 марта").
_CALENDAR_SRC = {
    "calendar": "январ феврал =март =марта =марте апрел =май =мая =мае июн июл август сентябр октябр ноябр декабр "
                "қаңтар ақпан наурыз сәуір мамыр маусым шілде тамыз қыркүйек қазан қараша желтоқсан производствен "
                "өндірістік перенос ауысу независимост тәуелсіздік конституц =год =году =годе =лет =жыл =жылы =жылда =жылғы =жылдың =жылға",
}
# Phrases (folded like the text, matched at word starts): questions about the date, the time, the bot itself.
_ABOUT_ELSE_PHRASES = (
    "день недели", "какое сегодня число", "какое число", "который час", "сколько времени сейчас", "сағат неше",
    "сағат қанша", "аптаның қай күні", "қай күні бүгін", "бүгін қандай мереке", "какой сегодня праздник",
    "как дела", "кто ты", "ты кто", "сен кімсің", "кімсің", "как тебя зовут", "атың кім", "сколько тебе лет",
    "ақша табамын", "ақша табу", "найти работу", "жұмыс табу", "неше жаста", "қалай айтады", "как сказать по",
    "как будет по", "как переводится", "нужна работа", "ищу работу", "вакансии", "жұмыс іздеймін", "жұмыс керек",
    "открыть ип", "открыть тоо", "ип ашу", "жк ашу", "пообщаться", "поболтать", "сөйлескім", "мне скучно",
    "зерігіп", "на отпуск", "демалысқа өтініш", "поступить на", "госслужбу", "на государственную службу",
    "қызметке орналас", "жұмысқа орналас", "жұмысқа тұр", "жұмысқа қалай тұр", "бос жұмыс орын", "стать сотрудником",
    "құпия сөз", "по фамилии", "тегі бойынша", "мемлекеттік баж", "баж", "телефон цона", "телефон цон", "цон телефон",
    "хқко телефон", "хқко нөмірі", "телефон хқко", "жек көр", "жақсы көремін", "люблю тебя", "тебя люблю",
    "жедел жәрдем", "еңбек демалыс", "жұмыстан демалыс", "жұмысқа бар", "интернет баяу", "баяу интернет",
    "интернет неге", "почему интернет", "интернет тормозит", "что подарить", "подарок на", "не сыйла", "сыйлыққа не", "сәлемдеме", "посылк", "трек номер", "демалыс ал", "демалысқа шығ",
    "сдать на права", "на водительские", "долг по", "мой долг", "долг за", "долги по", "по долгу", "вернуть долг", "долгов по", "жүргізуші куәлігін", "на права в",
)
# Family law is not a complaint about a public service even when it names one ("расторгнуть брак").
_FAMILY_PHRASES = (
    "развод", "развестись", "расторгн", "алимент", "некені бұзу", "ажырас", "сменить фамилию", "тегімді өзгерт",
)
# Whole messages that ask the time, the date or about the bot itself ("сколько времени" alone is the clock; in a
# longer question it may be the time left to complain).
_CHITCHAT = frozenset(skeleton(p) for p in (
    "сколько времени", "который час", "сағат қанша", "сағат неше", "какой сегодня день", "какой день", "бүгін қай күн",
    "қай күн", "какое сегодня число", "расскажи про себя", "расскажи о себе", "өзің туралы айтшы", "өзің туралы айт",
    "кто тебя создал", "сені кім жасады", "ты робот", "сен роботсың ба",
))
_ARITHMETIC = re.compile(r"\d\s*[+*×÷=]\s*\d|\d\s+[-/]\s+\d")  # "2+2", "10 / 5"; not "8-800-080-7777"
# the same in words, on the folded text: "екі қосу екі", "пять плюс три"
_NUMBER_WORD = r"(?:\d+|бир|еки|уш|торт|бес|алти|жети|сегиз|тогиз|он|один|два|три|четире|пиат)"
_ARITHMETIC_WORDS = re.compile(
    rf"(?:^| ){_NUMBER_WORD} (?:косу|плиус|минус|азаиту|кобеит[а-я]*|болу|умножит[а-я]*|разделит[а-я]*)(?: на)? {_NUMBER_WORD}(?: |$)"
)
# ... or a number and a verb of sums: "1414-ті екіге көбейт", "делится ли 1414 на 7"
_ARITHMETIC_VERB = re.compile(
    r"(?:^| )(?:кобеит[а-я]*|умнож[а-я]*|раздели|делитсиа (?:ли|на)|сан болин[а-я]*|сложи|вычти|прибави|в квадрате|"
    r"квадратии корен)(?: |$)"
)
_ANY_NUMBER = re.compile(rf"\d|(?:^| ){_NUMBER_WORD}[а-я]*(?: |$)")


def _arithmetic(text: str, sk: str) -> bool:
    """Whether a message asks for sums ("2+2", "екі қосу екі", "1414-ті екіге көбейт")."""
    return bool(
        _ARITHMETIC.search(text) or _ARITHMETIC_WORDS.search(sk)
        or (_ARITHMETIC_VERB.search(sk) and _ANY_NUMBER.search(sk))
    )


# How to obtain a service (its price, papers, payment date, a public office's hours) is not a complaint either:
# "как получить паспорт", "пенсия қашан түседі", "ХҚКО қашан ашылады". Such a phrase with a service or a CON named
# and nothing about a problem (`_PROBLEM_CONCEPTS`, `_PROBLEM_STEMS`) makes the query out of scope.
_HOWTO_PHRASES = (
    "как получить", "где получить", "как оформить", "где оформить", "оформление", "как сделать", "где сделать",
    "как восстановить", "как поменять", "как заменить", "замена", "как записаться", "записаться", "запись в",
    "сколько стоит", "стоимость", "госпошлин", "какие документы нужны", "какие документы нужно", "какие справки нужны",
    "что нужно для", "что нужно чтобы", "когда выплат", "когда придет", "когда придёт", "когда начисл",
    "когда будет готов", "размер", "сумма", "режим работы", "график работы", "часы работы", "во сколько открывается",
    "до скольки работает", "сколько работает", "во сколько", "открывается", "закрывается", "как встать в очередь", "очередь на", "делается", "сколько делают", "изготов",
    "қалай аламын", "қалай алуға", "қайдан аламын", "қалай рәсімде", "рәсімдеу", "қалай ауыстыр", "ауыстыру",
    "қалай жаздыр", "жазылу", "жазылам", "жазылуға", "жазылсам", "қанша тұрады", "бағасы", "баж салығы", "қандай құжат керек", "қандай құжаттар керек",
    "қандай құжаттар қажет", "қашан түседі", "қашан төлен", "қашан дайын", "мөлшері", "сомасы", "жұмыс уақыты",
    "жұмыс кестесі", "қашан ашылады", "қашан жабылады", "сағат нешеде", "нешеде ашыл", "нешеге дейін", "кезекке қалай тұр", "кезекке тұру", "жасалады",
    "неше күнде дайын", "как стать", "как поступить", "как зарегистрироваться", "зарегистрироваться на",
    "қалай тіркелемін", "тіркелу", "встать на учет", "адрес", "мекенжай", "срок действия",
    "мерзімін ұзарту", "онлайн алу", "онлайн получить", "получить онлайн", "какие госуслуги", "какие услуги есть", "қандай қызметтер бар", "кезегін", "кезегі",
    "где сделать", "қайдан жасаймын", "қайдан аламын", "как получить", "как зарегистрировать", "тіркеймін",
    "қалай тіркеу", "как продлить", "где продлить", "хочу продлить", "қалай ұзартамын", "қалай ұзартуға", "ұзартамын",
    "кезекті", "кезекке", "очередь в", "свою очередь", "место в очереди",
    "үшін не керек", "үшін қандай құжат", "күнде дайын", "дайын бола", "будет готов", "қанша болады", "сколько будет", "сколько мне будут", "қанша төлейді", "сколько заплатят",
    "жұмыс істей ме", "жұмыс істей ма", "работает ли", "работают ли", "работает в", "работают в", "открыт в",
    "переоформ", "қайта рәсімде", "как продать", "продать", "сату", "права сдать", "получить права",
    # what to bring, when an office receives, where the nearest one is: "для получения паспорта", "не апарамын"
    "для получения", "не апар", "құжат апар", "что нести", "документы нести", "что взять с собой", "часы приема", "часы приёма", "на прием к", "на приём к", "қабылдау уақыты",
    "қабылдау кестесі", "ближайш", "жақын жердегі", "ең жақын", "қалай жаңарт", "как обновить",
)
# What such a how-to question may name: a service, a CON, a digital signature, an IIN, eGov, a company, the court.
_HOWTO_OBJECTS = _concept_names("service con eds iin egov legal court")
_AUTHORITY_STEMS = _stems("акимат аким әкім госорган ведомств министерств")  # ... or an authority: "часы приема в акимате"
_PROBLEM_CONCEPTS = _concept_names(
    "complaint refuse rude not wait delay anon forward partial disagree suggest inaction extra"
)
# The procedure's own terms: with "complaint" they keep a query in scope whatever everyday topic it names as well
# ("пропустил 3 месяца на жалобу, лежал в больнице").
_PROCEDURE = _concept_names("term month extend answer court agency forward anon")
# ... or three of them with the people of a service: "суд восстановит срок иска, пропущенный месяц" (in hospital),
# "срок продлили, сотрудник в отпуске"
_PROCEDURE_OWN = _PROCEDURE | _concept_names("staff provider")
# ... and the steps a complaint to the provider's head goes through (`FaqIndex._to_the_head`)
_HEAD_STEPS = _PROCEDURE | _concept_names("refuse answer result disagree inaction ignore")
_PROBLEM_STEMS = _stems(
    "заставля мәжбүр наруш бұз просроч задерж затян созы кешік требу талап лишн артық =сверх сверхнорм ненуж қажетсіз ошибк ошиб қате хам "
    "груб отказ игнор неправил неверн проблем мәселе обман алда взятк пара жемқор коррупц"
)

# A message made only of an acknowledgement ("ок, понятно", "жарайды") asks nothing.
_ACK_WORDS = frozenset(skeleton(w) for w in (
    "ок окей ok okay понятно ясно хорошо ладно угу ага да нет жарайды жақсы түсінікті түсіндім иә жоқ"
).split())

# Words that keep a query in the domain whatever else it names: a public service, an authority, the procedure's own
# terms (concepts below, and these stems).
_SERVICE_ANCHORS = _concept_names("iin bin con eds agency anon service provider recipient egov")
_SERVICE_STEMS = _stems(
    "госуслуг госорган гос.орган акимат әкімдік әкімшілік ведомств министерств канцеляр кеңсе чиновник шенеунік "
    "мемлекеттік государствен услуг қызмет 1414"
)

# In-domain evidence: a concept of the complaint procedure, or a word naming public services, an authority, the
# procedure's papers and platforms, personal data. A query with none of them (only days, numbers, a language, a
# phone, a service's name: "сколько дней до нового года", "на каком языке говорят в Швейцарии", "паспорт алу үшін не
# керек") must match much better than the threshold (NO_DOMAIN_RAW) to be answered.
_DOMAIN_CONCEPTS = _concept_names(
    "complaint court iin bin con eds sms agency anon extend refuse rude disabled forward provider recipient egov answer "
    "inaction ignore delay partial disagree askbot bot sample status extra suggest rights duty accept staff wait free "
    "notify submit result paper define term"
) | {"1414"}
_DOMAIN_STEMS = _SERVICE_STEMS + _PROBLEM_STEMS + _stems(
    "мемқызмет диалог стандарт госорган дерек данн персонал мәлімет өтініш обращени заявлени арыз фото скрин копи көшірме "
    "талон приложени тіркейтін дәлел доказ ғимарат здани келісім согласи подпис қолтаңба оформил "
    "напомина еске помога помощ полез көмек пайдалан"
)

# Small talk: a message made only of a greeting, thanks or a goodbye, in either language, any spelling. It is not a
# question: the bot answers it with its menu, and the search finds nothing in it. Each kind has core words (one of
# them must be there) and words that may come with them ("доброе утро", "большое спасибо", "сау болыңыз").
_GREETING_CORE = (
    "привет приветик приветствую здравствуйте здравствуй здрасте здрасьте здарова добрый доброе доброго доброй салам "
    "салем сәлем сәлеметсіз сәлеметсіздер саламатсыз саламатсызба сәлеметсізбе армысыз армысыздар ассалаумағалейкум "
    "ассаламуалейкум ассаламағалейкум ассалаумағалейкүм уағалейкумассалам алейкум қайырлы hi hello hey хай хелло "
    "хеллоу құтты поздравляю годом праздником прив приветики здрасти здорово салют ассалам ассаламу алайкум уалейкум "
    "саламалейкум ассалаумалейкум ассаламалейкум morning afternoon evening"
)
_GREETING_WITH = (
    "день утро вечер ночи времени суток вас всем уважаемые уважаемый күн таң кеш түн болсын мерекеңіз новым жаңа жыл "
    "досым достым достар бауырым аға ағай ағатай апа апай әпке қарындас good there everyone"
)
_THANKS_CORE = "спасибо спасибочки спс пасиб благодарю благодарим рақмет рахмет рахмат алғыс thanks thank thx"
_THANKS_WITH = (
    "большое огромное вам за помощь ответ всё все понятно ясно помогли помогла выручили очень көп үлкен сізге саған "
    "көмегіңізге көмегіңе көмегің көмегіңіз көмек үшін көмектестіңіз көмектестің түсіндім түсінікті жақсы айтамын "
    "білдіремін you much so"
)
_GOODBYE_CORE = (
    "пока свидания досвидания встречи прощай всего хорошего удачи сау саубол көріскенше қош сәтті bye goodbye чао бай"
)
_GOODBYE_WITH = (
    "до доброго дня вечера вам бол болыңыз болыңдар болыныз күніңіз өтсін жақсы қалыңыз see you soon"
)
_TALK: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = tuple(
    (kind, frozenset(skeleton(core).split()), frozenset(skeleton(core + " " + with_).split()))
    for kind, core, with_ in (  # the first kind whose core word is in the message wins: "спасибо, до свидания"
        ("goodbye", _GOODBYE_CORE, _GOODBYE_WITH),
        ("thanks", _THANKS_CORE, _THANKS_WITH),
        ("greeting", _GREETING_CORE, _GREETING_WITH),
    )
)
_TALK_VOCAB = frozenset(w for _kind, _core, vocab in _TALK for w in vocab)
# Asking after the bot or who it is, alone or after a greeting, is a greeting too: "как дела?", "кто ты", "қалайсың",
# "сен кімсің" ("что ты умеешь" is a question to the bot: it has its entry).
_HOW_ARE_YOU = frozenset(skeleton(p) for p in (
    "как дела", "как делишки", "как ты", "как вы", "как поживаешь", "как поживаете", "как жизнь", "кто ты", "ты кто",
    "кто ты такой", "ты кто такой", "кто вы", "вы кто", "кімсің", "кімсіз", "сен кімсің", "кімсің сен", "сіз кімсіз",
    "кім сен", "сен кім", "қалайсың", "қалайсыз", "қалайсыздар", "қалың қалай", "жағдай қалай", "жағдайың қалай",
    "жағдайыңыз қалай", "жағдайлар қалай", "хал қалай", "халың қалай", "халіңіз қалай", "халыңыз қалай",
    "хал жағдай қалай", "не хабар", "how are you", "who are you", "ты живой", "ты тут", "ты здесь",
    "тірісің бе", "сен тірісің бе", "бармысың", "сен бармысың",
))
# An acknowledgement alone ("ок", "понятно", "жарайды", "түсіндім") asks nothing: the bot answers it like thanks, with
# its menu ("ack"); "да" / "нет" alone are left to the conversation.
_ACK_TALK = frozenset(skeleton(w) for w in (
    "ок окей ok okay понятно понял поняла ясно хорошо ладно угу ага жарайды жақсы түсінікті түсіндім "
    "болды жарайсың класс отлично супер"
).split())
# words that may come with any of them without making it a question ("привет, бот, как дела?")
_TALK_FILLER = frozenset(skeleton(w) for w in (
    "как дела ты вы бот шагым шағым shagym қалайсыз қалайсың қалайсыздар қалың қалай жағдай жағдайың жағдайыңыз бе ба "
    "ма ме и және вам тебе сізге саған с со "
    # a request with no question yet: "Здравствуйте, у меня вопрос", "Сәлеметсіз бе, көмек керек"
    "у меня есть вопрос вопросик подскажите подскажи помогите помоги пожалуйста можно мне нужна помощь "
    "менің сұрағым сұрақ бар көмектесіңізші көмектесіңіз көмектесші көмек керек өтінемін"
).split())


def small_talk(text: str, sk: str | None = None) -> str | None:
    """``"greeting"`` (also "как дела?", "кто ты?"), ``"thanks"``, ``"goodbye"`` or ``"ack"`` (an acknowledgement
    alone: "ок", "понятно", "жарайды") when the message is nothing else (any language or spelling), else None. A message with thanks and a goodbye is a goodbye; one with a greeting and a request but no question yet
    ("Здравствуйте, у меня вопрос") is a greeting."""
    words = (skeleton(text) if sk is None else sk).split()
    if not words or len(words) > 6:
        return None
    if all(w in _ACK_TALK for w in words):
        return "ack"
    lead = next((i for i, w in enumerate(words) if w not in _TALK_VOCAB), len(words))
    if lead < len(words) and " ".join(words[lead:]) in _HOW_ARE_YOU:
        return "greeting"  # "как дела?", "привет, кто ты?", "сәлем, қалайсың"
    if not all(w in _TALK_VOCAB or w in _TALK_FILLER or w in _ACK_TALK for w in words):
        return None  # "ок, спасибо" is thanks
    for kind, core, _vocab in _TALK:
        if any(w in core for w in words):
            return kind
    return None


# Concepts shared by both languages (and by digits and number words): a word that matches a concept also yields
# the concept token "#name", so "жалоба 5 жұмыс күні" meets "шағым бес жұмыс күні ішінде". Written in normal
# spelling and folded at import. "=" marks whole words, the rest are stems (prefixes); "~" a stem matched without a
# typo.
_CONCEPTS_SRC = {
    "complaint": "жалоб жалов жалуют жалуюсь пожалов пожалуют обжал шағым",
    "work": "рабоч жұмыс",
    "day": "=день =дня =дней =дни =күн =күні =күнде =күнге =күннен =күнінен =күндері =күндік",
    "n5": "=5 =пять =пяти =бес",
    "n15": "=15 =пятнадцать =пятнадцати",
    "n3": "=3 =три =трех =трёх =үш",
    "n10": "=10 =десять =десяти =он",
    "month": "=месяц =месяца =месяцев =ай =айдан =айда =айға",
    "court": "суд =сот =сотқа =сотта =соттың =соттан =сотты =сотпен =соттар =иск =иска =иске =иском исков исков "
             "судеб судит",
    "legal": "юрлиц юридическ организац компани товарищест =тоо =ооо =ип =жк предприят фирм заңды ұйым =жшс мекеме кәсіпкер "
             "предпринимател",
    "rude": "груб нагруб хам нахам дөрекі накрич наор орал орет кричал айғай айқай әдепсіз сыпайы невежлив "
            "неуважит оскорб унизи униж издева тұрпайы мазақ балағат қорла",
    "con": "цон =хқко госкорпорац мемкорпорац",
    "iin": "=иин =иина =иину =иином =иине =жсн",
    "bin": "=бин =бина =бину =бином =бине =бсн",
    "eds": "эцп эцқ",
    "sms": "=смс =sms смск смсо смсу смсм",
    "agency": "агенств агентств агенттік =адгс =мқіа",
    "extend": "продл ұзарт",
    "notify": "уведом извест сообщ хабарла",
    "term": "срок мерзім",
    "anon": "аноним жасырын =тайная =тайно =тайную =втайне",
    "free": "бесплатн =платный =платная =платно =платно ақылы ақысыз",
    "sample": "образец образц шаблон =үлгі =үлгісі =үлгісін =үлгісін",
    "ignore": "игнор проигнор елемеді елемей елемейді",
    "lang": "язык =тіл =тілі =тілде =тілінде",
    "langname": "~казахск қазақша русск орысша английск ағылшын",
    "disabled": "инвалид мүгедек пандус коляск арбада маломобил слабовид слабослыш незряч =слепой =слепому =слепая "
                "=слепого =слепым глухонем =глухой =глухому =глухая =соқыр =соқырға көрмейтін көрмейді естімейтін "
                "естімейді саңырау",
    "online": "онлайн интернет",
    "egov": "egov eotinish егов еотиниш портал",
    "provider": "услугодател поставщик ~беруші",
    "extra": "лишн дополнительн артық =сверх сверхнорм ненужн қажетсіз базад базас =базе =базы дерекқор",  # "берші" (give me) is not "беруші"
    "recipient": "получател услугополуч алушы",
    "status": "статус мәртебе",
    "paper": "бумаж бумаг қағаз",
    "rights": "=права =право =прав =правах құқық",
    "duty": "обязан міндет =должен =должна =должны",
    "suggest": "предлож ұсыныс отзыв ~пікір идея идею идеям",
    "bot": "=бот =бота =ботом =боту =ботқа =ботты =боттың",
    "phone": "звон позвон қоңырау",  # not "телефон": the phone one files from is no call
    "accept": "принят принима приня приём прием қабылда =примем =примут =примет =примете",
    "register": "регистр тіркел тіркеу",
    "answer": "ответ жауап",
    "result": "результат нәтиже",
    "weekend": "выходн суббот воскрес праздн демалыс сенбі жексенбі мереке",
    "doc": "документ құжат справк анықтама",
    "staff": "должност лауазым чиновн шенеунік сотрудн служащ қызметкер работни оператор",
    "howmany": "~сколько ~сколко ~скока ~скоко ~сколька неше қанша",  # "скорой" is no typo of "скоко"
    "refuse": "отказ =бас тартт тартып тарту",
    "forward": "пересл переправ перенаправ жолда =передадут =передаст =передадите",
    "delay": "затян затягив тянут тянет тянул созып созд созылып кешік кешіг задерж просроч опазд обещал уәде",
    "wait": "недел апта долго давно жду ждем ждал ждала ждать күтіп күтем күттім ұзақ тишин молча молчит үнсіз",
    "inaction": "бездейств әрекетсіз",
    "head": "руководител начальник =басшы =басшыға =басшысы =басшысына =басшыны =бастық бастығ бастыққ",
    "submit": "сдач сдат сдаю сдал сдаеш сдав сдам сдаст тапсыр",
    "partial": "частичн наполовин половин неполн жартылай",
    # the services people name in their questions: in the domain even when the knowledge base never names them
    "service": "паспорт удостоверени прописк пособи пенси детсад садик справк выписк лиценз разрешени земельн "
               "=участок =участка =участку =участке =участком =участки техпаспорт автомобил машин водительск "
               "свидетельств =брака =браке =браку рождени субсиди =жильё =жилье =жилья =жилью жилищ =жилой =жилого "
               "квартир төлқұжат куәлік тіркеу жәрдемақы зейнетақы балабақша анықтама учаске көлік автокөлік тууы "
               "неке тұрғын тұрғылықт пәтер безработ жұмыссыз соттылы несудимост",
}


def _fold_concepts() -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    exact: dict[str, str] = {}
    prefix: dict[str, str] = {}
    no_typo: set[str] = set()
    for name, words in _CONCEPTS_SRC.items():
        for w in words.split():
            if w.startswith("="):
                for part in skeleton(w[1:]).split():
                    exact[part] = "#" + name
            elif w.startswith("~"):  # a stem one letter away from an everyday word: no typo allowed
                prefix[skeleton(w[1:])] = "#" + name
                no_typo.add(skeleton(w[1:]))
            else:
                prefix[skeleton(w)] = "#" + name
    return exact, prefix, frozenset(no_typo)


_CONCEPT_EXACT, _CONCEPT_PREFIX, _NO_TYPO = _fold_concepts()
_CONCEPT_PREFIX_LENS = sorted({len(p) for p in _CONCEPT_PREFIX}, reverse=True)


def _fold_words(src: dict[str, str]) -> tuple[frozenset[str], tuple[str, ...]]:
    exact: set[str] = set()
    prefix: set[str] = set()
    for words in src.values():
        for w in words.split():
            if w.startswith("="):
                exact.add(skeleton(w[1:]))
            else:
                prefix.add(skeleton(w))
    return frozenset(exact), tuple(sorted(prefix))


def _phrase_rx(phrases: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("(?:^| )(?:" + "|".join(re.escape(skeleton(p)) for p in phrases) + ")")


_ELSE_HARD = _fold_words(_ABOUT_ELSE_SRC)
_ELSE_SOFT = _fold_words(_ABOUT_ELSE_SOFT_SRC)
_ELSE_ELSEWHERE = _fold_words(_ELSEWHERE_SRC)
_ELSE_CALENDAR = _fold_words(_CALENDAR_SRC)
_CALENDAR_GENERIC = _concept_names("day work howmany weekend month n3 n5 n10 n15 lang langname phone")
# What a price is asked of: out of scope unless it is a complaint or the call centre ("сколько стоит бензин"; filing
# a complaint costs nothing, and "сколько стоит подать жалобу" stays in scope).
_PRICE_PHRASES = ("сколько стоит", "стоимость", "цена на", "қанша тұрады", "бағасы қанша", "неше тұрады", "бағасы")


def _names_any(words: list[str], folded: tuple[frozenset[str], tuple[str, ...]]) -> bool:
    """Whether a word is one of the whole words (or one of them with endings: "визаның", "бастығым") or starts
    with one of the stems."""
    exact, prefix = folded
    return any(w in exact or w.startswith(prefix) or _inflected(w, exact) for w in words)


def _inflected(word: str, whole: frozenset[str]) -> bool:
    """Whether the word is one of `whole` of 4 letters or more (a shorter one, "қар", would take "қарау" for snow)
    followed by endings."""
    return any(word[:k] in whole and is_ending(word[k:]) for k in range(4, len(word)))


def about_else(text: str, sk: str | None = None) -> str | None:
    """What else than public services the text names: ``"hard"`` an everyday topic (weather, sport, food, shopping,
    ...: `_ABOUT_ELSE_SRC`, `_ABOUT_ELSE_PHRASES`), ``"elsewhere"`` a bank, a shop, the police (`_ELSEWHERE_SRC`),
    ``"soft"`` gadgets or learning (`_ABOUT_ELSE_SOFT_SRC`), ``"calendar"`` months and moved days off
    (`_CALENDAR_SRC`); else None. Whether the query is still in the domain is for `FaqIndex.search`."""
    sk = skeleton(text) if sk is None else sk
    if sk in _CHITCHAT or _arithmetic(text, sk):
        return "hard"
    return _topic(sk.split(), _PHRASE_LISTS.found(sk))


def _topic(words: list[str], phrases: set[str]) -> str | None:
    """`about_else` but for the chit-chat and the sums, of a text's words and `_PHRASE_LISTS` found in it."""
    if "else" in phrases:
        return "hard"
    kinds = set().union(*map(_else_kinds, words))
    if "hard" in kinds:
        return "hard"
    if "elsewhere" in phrases:
        return "elsewhere"
    for kind in ("elsewhere", "soft", "calendar"):
        if kind in kinds:
            return kind
    return None


_ELSE_KINDS = (
    ("hard", _ELSE_HARD), ("elsewhere", _ELSE_ELSEWHERE), ("soft", _ELSE_SOFT), ("calendar", _ELSE_CALENDAR),
)


def _whole_kinds() -> dict[str, frozenset[str]]:
    """A whole word of the everyday topics' lists -> the kinds that list it."""
    out: dict[str, frozenset[str]] = {}
    for kind, (exact, _) in _ELSE_KINDS:
        for w in exact:
            out[w] = out.get(w, frozenset()) | {kind}
    return out


_ELSE_WHOLE = _whole_kinds()


@lru_cache(maxsize=65536)
def _else_kinds(word: str) -> frozenset[str]:
    """Which everyday topics' word lists name a word (`_names_any` of each): once per word, not once per query
    (measured: about 25 us a query less). The lists' whole words are looked up together, each beginning of the word
    once rather than once a list (measured: ~6.5 -> ~3 us a word new to the process)."""
    kinds = set(_ELSE_WHOLE.get(word, ()))
    for k in range(4, len(word)):  # a whole word of 4 letters or more, with endings (`_inflected`)
        more = _ELSE_WHOLE.get(word[:k])
        if more and not more <= kinds and is_ending(word[k:]):
            kinds |= more
    kinds.update(kind for kind, (_, prefix) in _ELSE_KINDS if word.startswith(prefix))
    return frozenset(kinds)


def _deletes(s: str) -> set[str]:
    return {s} | {s[:i] + s[i + 1 :] for i in range(len(s))}


def _fuzzy_index() -> dict[tuple[int, str], list[tuple[str, str]]]:
    """(stem length, the stem or the stem less one letter) -> [(stem, concept)]: candidates for one typo."""
    index: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for stem, c in _CONCEPT_PREFIX.items():
        if len(stem) >= 5 and stem not in _NO_TYPO and c != "#service":
            for d in _deletes(stem):
                index.setdefault((len(stem), d), []).append((stem, c))
    return index


_FUZZY = _fuzzy_index()
_FUZZY_LENS = sorted({n for n, _ in _FUZZY})


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
        for n in _FUZZY_LENS:  # the word's first n-1, n or n+1 letters within one edit of a stem of n letters
            for k in (n - 1, n, n + 1):
                if k > len(word):
                    break
                head = word[:k]
                for d in _deletes(head):
                    for stem, c in _FUZZY.get((n, d), ()):
                        if _same_start(stem, head) and _one_edit(head, stem):
                            return c
    return None


def _same_start(a: str, b: str) -> bool:
    """Whether two words begin alike: typos rarely hit the first two letters, but colloquial Russian writes an
    unstressed "о" as "а" there too ("атказали", "абжаловать")."""
    return a[:2] == b[:2] or (a[1:2] == b[1:2] and {a[:1], b[:1]} == {"а", "о"})


# Negation changes the question ("не ответили" is not "когда ответят"): a Russian negating word, or a Kazakh verb in
# the negative ("бермеді", "қарамай", "келмесе"), adds the concept "#not".
_NEGATIONS = frozenset(skeleton(w) for w in "не нет нету ни никто ничего никак игнор жоқ емес".split())
_KK_NEGATIVE = re.compile(r"(ма|ме|ба|бе|па|пе)(ди|ган|ген|и|са|се|ски|стан|стен|пти|пи|иди|иди)$")


_KK_LETTERS = re.compile("[әғқңөұүһі]")
# words never joined with their neighbour (`FaqIndex._joined`): "не согласен" is no "несогласен"
_NO_JOIN = _STOP | _GENERIC | _NEGATIONS
_KK_WHAT_NEXT = _stems("істе исте үшін ушин деген болды болад керек жаза бер іст")


@lru_cache(maxsize=65536)
def _negative(word: str) -> bool:
    return word in _NEGATIONS or (len(word) >= 6 and _KK_NEGATIVE.search(word) is not None)


# What a question asks (who, where to, why, what is) and a disagreement: phrases of stop words and generic words that
# still tell the topics apart ("кто может жаловаться" ~ who_can_complain, "за что можно жаловаться" ~ grounds, "это что"
# ~ a definition, "не согласен" ~ disagree_with_result and not a negated question). Matched at word starts in the
# folded text; each adds its concept token. A disagreement absorbs its negation ("не согласен" is not "#not").
_PHRASE_CONCEPTS_SRC = {
    "who": "кто|кого|кім|кімнің|кімдер",
    "where": "куда|кому|кімге|қайда|в какой орган|в какую инстанцию|қай органға|қай мекемеге",
    "why": "за что|на что|почему|в каких случаях|в каком случае|в какой ситуации|неге|не үшін|қандай жағдайда|"
           "қай жағдайда|қай кезде|қандай себеппен|причин|повод|себеп",
    "define": "что такое|что за|это что|это кто|что значит|что означает|что это|расшифр|деген не|деген кім|"
              "дегеніміз|деген қандай|нені білдіреді|не білдіреді|не деген|деген сөз|мағынасы|деп нені айта|деп не айта|"
              "деп нені атай|деп атайды|деп аталады|дегені не",
    "can": "можно ли|может ли|могу ли|можно|вправе|имею ли право|имеет ли право|имеют ли право|бола ма|бола ме|"
           "болады ма|ала ма|ала ме|аламын ба|аламын ба|алады ма|құқығы бар ма|құқығым бар ма|рұқсат",
    "must": "обязательно ли|обязан|обязаны|обязательн|нужно ли|надо ли|нужен ли|нужна ли|должен ли|должны ли|"
            "міндетті|керек пе|керек па|қажет пе|тиіс пе",
    "write": "что писать|что написать|что указать|что указывать|что пишут|что пишется|что указывается|"
             "что должно быть в|какие данные|какие сведения|реквизит|заполн|составить|оформить|"
             "не жазамын|не жазу|не жазылады|нені жазу|жазу керек|не көрсет|нені көрсет|не жаза|толтыр|қандай мәлімет|қандай дерек|"
             "деректеме",
    "court": "талап арыз|талап қою",
    # asking what the bot can do ("ты кто вообще, чем можешь помочь"): a question to the bot, not chit-chat
    "askbot": "чем можешь помочь|чем ты можешь|чем поможешь|что ты умеешь|что умеешь|что ты можешь|"
              "можешь написать жалоб|что ты делаешь|ты что делаешь|не істейсің|не істейсіз|можешь составить жалоб|ты можешь написать|ты можешь составить|қолыңнан не келеді|не істей аласың|не істей алады|не істей біледі|жазып бересің|"
              "жазып бере аласың|мен үшін жаз|орныма жаз|ты юрист|ты адвокат|вы юрист|сен заңгерсің|сіз заңгерсіз|сен заңгер|"
              "сіз заңгер",
    "eds": "цифровая подпись|цифровой подписи|цифровую подпись|цифрлық қолтаңба|электрондық қолтаңба|"
           "электронная подпись|электронной подписи|электронную подпись",
    "online": "не выходя из дома|не выходя из дому|үйден шықпай|дистанцион|удаленно|удалённо|қашықтан",
    "provider": "который оказал|которые оказали|которая оказала|который оказывает|которые оказывают|оказавший услугу|"
                "оказавшего услугу|кто оказывает услугу|кто оказал услугу|қызметті көрсеткен орган|"
                "қызмет көрсеткен орган|қызметті көрсететін орган",
    "still": "до сих пор|так и не|так и нет|всё ещё|все еще|по-прежнему|әлі күнге|әлі де|әлі",
    "con": "центр обслуживания|центры обслуживания|центре обслуживания|центра обслуживания|халыққа қызмет көрсету|"
           "правительство для граждан|азаматтарға арналған үкімет",
    "partial": "только один|только одну|только одно|только часть|только половин|остальное|остальные|остальных|"
               "біреуін ғана|біреуі ғана|бірін ғана|бір бөлігін|қалғанын|қалғаны|қалғандарын",
    "disagree": "не в мою пользу|несправедлив|отписк|қанағаттанба|пайдама емес|не соглас|несоглас|не устраив|не нравит|не понравил|не удовлетвор|неудовлетвор|недовол|отклонил|ұнамад|ұнамай|ұнамас|"
                "келіспе|қанағаттандырма|наразы|қарсымын|не решен|не решён|не решена|не решено|шешілмеді|шешілмей|шешілмеген|"
                "проблема осталась|мәселе сол күйі|ничего не изменил|ничего не поменял|ничего не сдвинул|"
                "ештеңе өзгермеді|ештеңе өзгерген жоқ|еш өзгеріс жоқ|өзгеріс болмады",
}
_QUESTION_CONCEPTS = _concept_names("who where why define howmany can must write")


class _PhraseLists:
    """Named lists of phrases, folded, each found where a word of a folded text starts (a phrase may end inside a
    word: "посылк"), as the regex ``(?:^| )(?:p1|p2|...)`` of one list finds it: all the lists in one pass over the
    text's word starts, by the phrases' first three letters. A search looks for some 20 lists (the phrase concepts,
    the everyday topics, how-to questions...): 20 regex searches cost it about 12 us more than this pass."""

    HEAD = 3  # letters a phrase is looked up by: no phrase is shorter

    def __init__(self, lists: dict[str, tuple[str, ...]]) -> None:
        heads: dict[str, dict[str, set[str]]] = {}
        for name, phrases in lists.items():
            for p in map(skeleton, phrases):
                if len(p) < self.HEAD:
                    raise ValueError(f"a phrase of {name} shorter than {self.HEAD} letters: {p!r}")
                heads.setdefault(p[: self.HEAD], {}).setdefault(name, set()).add(p)
        # a list's phrases longest first: where several start at one place, the regex matches the longest
        self._heads = {
            h: tuple((name, tuple(sorted(ps, key=lambda p: (-len(p), p)))) for name, ps in d.items())
            for h, d in heads.items()
        }

    def found(self, sk: str) -> set[str]:
        """The names of the lists that have a phrase in `sk`."""
        out = set()
        i = 0
        while True:
            for name, phrases in self._heads.get(sk[i : i + self.HEAD], ()):
                if sk.startswith(phrases, i):
                    out.add(name)
            i = sk.find(" ", i) + 1
            if not i:
                return out

    def span(self, sk: str, name: str) -> tuple[int, int]:
        """Where the first phrase of the list `name` is in `sk` (the longest where several start at one place), as the
        regex match spans it: with the space before it; (-1, -1) when there is none."""
        i = 0
        while True:
            for n, phrases in self._heads.get(sk[i : i + self.HEAD], ()):
                for p in phrases if n == name else ():
                    if sk.startswith(p, i):
                        return max(i - 1, 0), i + len(p)
            i = sk.find(" ", i) + 1
            if not i:
                return -1, -1


_PHRASE_CONCEPTS = tuple("#" + name for name in _PHRASE_CONCEPTS_SRC)
# the disagreement drops its "не" from the text: no other phrase concept is looked for after it (in the text without it)
assert _PHRASE_CONCEPTS[-1] == "#disagree"
_PHRASE_LISTS = _PhraseLists({
    **{"#" + name: tuple(phrases.split("|")) for name, phrases in _PHRASE_CONCEPTS_SRC.items()},
    "else": _ABOUT_ELSE_PHRASES, "elsewhere": _ELSEWHERE_PHRASES, "family": _FAMILY_PHRASES, "howto": _HOWTO_PHRASES,
    "price": _PRICE_PHRASES,
})
_NOT_PREFIX = re.compile(r"(^| )не ")


def _phrase_concepts(sk: str, phrases: set[str] | None = None) -> tuple[str, list[str], int]:
    """The phrase concepts of a folded text (`phrases`: the `_PHRASE_LISTS` found in it, when known); a disagreement
    absorbs its negation ("не согласен", "ұнамады"): the text without that "не", the concepts, and where the
    disagreement ends (-1: none)."""
    phrases = _PHRASE_LISTS.found(sk) if phrases is None else phrases
    found = [name for name in _PHRASE_CONCEPTS if name in phrases]
    disagree_end = -1
    if "#disagree" in phrases:
        start, end = _PHRASE_LISTS.span(sk, "#disagree")
        sk = sk[:start] + _NOT_PREFIX.sub(r"\1", sk[start:end], count=1) + sk[end:]
        disagree_end = sk.find(" ", start + 1)
        disagree_end = len(sk) if disagree_end < 0 else disagree_end
    return sk, found, disagree_end


def _negates(words: list[str], i: int, kazakh: bool) -> bool:
    """Whether the i-th word negates the question. Kazakh "не" is "what" ("не істеймін", "деген не"): a negation
    only before a word, in a text with no Kazakh letters, and not before a Kazakh verb of asking; in Kazakh text "ни"
    is a split-off ending ("ЖШС-ны")."""
    t = words[i]
    if t in ("не", "ни"):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if kazakh or not nxt or nxt.startswith(_KK_WHAT_NEXT):
            return False
    return _negative(t)


def tokens(
    text: str, concepts: bool = True, *, fuzzy: bool = False, known: frozenset[str] = frozenset(), sk: str | None = None
) -> list[str]:
    """Skeleton tokens of a text: stop words and short words dropped, numbers kept, concept tokens appended
    (``fuzzy``: also for a word one typo away from a concept's stem, unless the word is one of ``known``, the
    knowledge base's own words: "оказали" is no typo of "отказ"; for queries, not for the knowledge base)."""
    sk = skeleton(text) if sk is None else sk
    if not concepts:
        return [t for t in sk.split() if t.isdigit() or (len(t) >= 3 and t not in _STOP)]
    words, plain, typo = _token_parts(text, sk, fuzzy, known)
    return words + typo


def _token_parts(
    text: str, sk: str, fuzzy: bool, known: frozenset[str], phrases: set[str] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """`tokens()` in parts, in one pass: the kept words, their concepts (with the phrase concepts and "#not"), and the
    same concepts with one typo allowed (``fuzzy``) in a word not `known`. A search needs both (`FaqIndex._about_else`
    takes no typo): one pass for both saves a second one, about 15 us a query. `phrases`: `_PHRASE_LISTS` found in
    `sk`, when known."""
    out = []
    sk, extra, disagree_end = _phrase_concepts(sk, phrases)
    typo = list(extra)
    kazakh = _KK_LETTERS.search(text.lower()) is not None
    words = sk.split()
    pos = 0
    for i, t in enumerate(words):
        start = sk.find(t, pos)
        pos = start + len(t)
        keep = t.isdigit() or (len(t) >= 3 and t not in _STOP)
        if keep:
            out.append(t)
        if (keep or t in _CONCEPT_EXACT) and (t != "он" or kazakh):  # Kazakh "он" is ten, Russian "он" is "he"
            c = _concept(t, False)
            if c is not None and c not in extra:
                extra.append(c)
            c = _concept(t, fuzzy and t not in known)
            if c is not None and c not in typo:
                typo.append(c)
        # no concept is "#not": it is in both lists or in neither
        if "#not" not in extra and start >= disagree_end and _negates(words, i, kazakh):
            extra.append("#not")
            typo.append("#not")
    return out, extra, typo


def _trigrams(text: str, sk: str | None = None) -> frozenset[str]:
    grams: set[str] = set()
    for w in tokens(text, concepts=False, sk=sk):
        p = f" {w} "
        grams.update(p[i : i + 3] for i in range(len(p) - 2))
    return frozenset(grams)


def _lcp(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _one_edit(a: str, b: str, lcp: int | None = None) -> bool:
    """Whether two words are at most one edit apart in optimal-string-alignment distance (Levenshtein with swaps of
    adjacent letters): equal, or one substitution, insertion, deletion or swap apart. All the callers ask of that
    distance, in a few slices rather than the distance's table (measured: ~20 us -> ~1 us a pair; a first search of
    the bench's questions asks ~16 pairs). `lcp`: the words' common prefix's length, when known."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if la < lb:
        a, b, la, lb = b, a, lb, la
    if la - lb > 1:
        return False
    i = _lcp(a, b) if lcp is None else lcp  # a[i] is the first letter that differs
    if la > lb:
        return a[i + 1 :] == b[i:]  # one letter more
    return a[i + 1 :] == b[i + 1 :] or (a[i + 1 : i + 2] == b[i] and a[i] == b[i + 1 : i + 2] and a[i + 2 :] == b[i + 2 :])


# Inflectional endings of Russian and Kazakh (and a few Kazakh word-forming ones: -лық, -шы, -сыз, -да-/-дан- of
# verbs), in skeleton form. A light stemmer: `is_ending` says whether the tail left after a shared stem is made of
# them ("шағым|дарымды", "жалоб|у"), so that "қасық" is not read as "кәсіпкер" nor "жалоба" as "жало".
_ENDINGS_SRC = (
    # Russian: nouns and adjectives, verbs, participles, reflexive
    "а я о е ё и ы у ю й ом ем ём ам ям ами ями ах ях ов ев ей ой ий ый ых их ым им ого его ому ему ую юю ая яя ое "
    "ее ые ие ия ию ием ии ть ти ет ёт ит ут ют ат ят ешь ишь ете ите ёте л ла ло ли ся сь в вши вшись ши ние ния "
    "нию нием нии ение ения ению ением ении ан ян ен ён ин ена ено ены енн анн нн н ка ки ку ке ке ст ств ость ости "
    "тель теля телю телем тели телей "
    # Kazakh: plural, possessive, cases, verb forms, question and negation particles glued on, word-forming
    "лар лер дар дер тар тер ым ім м ың ің ң ыңыз іңіз ңыз ңіз сы сі ы і мыз міз ңыз ның нің дың дің тың тің ға ге "
    "қа ке на не а е н ны ні ды ді ты ті да де та те нда нде дан ден тан тен нан нен мен бен пен менен ша ше ған "
    "ген қан кен ады еді йды ды ді ты ті ып іп п атын етін йтын йтін у уға уге уді уы са се ма ме ба бе па пе мын "
    "мін сың сің сыз сіз быз біз пыз піз лық лік дық дік тық тік шы ші ғы гі қы кі дағы дегі тағы тегі ғыз гіз қыз "
    "кіз ар ер р ла ле лан лен лас лес ғай гей қай кей ушы уші ймын йміз йсыз йды мақ мек пақ пек бақ бек ақ ек"
)
_ENDINGS = frozenset(skeleton(e) for e in _ENDINGS_SRC.split()) - {""}
_ENDING_MAX = max(len(e) for e in _ENDINGS)


@lru_cache(maxsize=65536)
def is_ending(tail: str, pieces: int = 4) -> bool:
    """Whether `tail` (skeleton letters) is a chain of at most `pieces` endings ("" is)."""
    if not tail:
        return True
    if pieces == 0:
        return False
    return any(
        tail[:k] in _ENDINGS and is_ending(tail[k:], pieces - 1) for k in range(min(len(tail), _ENDING_MAX), 0, -1)
    )


def stem(word: str, min_len: int = 3) -> str:
    """The shortest prefix of a skeleton word, at least `min_len` letters, after which the rest is a chain of endings:
    "шагимдаримди" -> "шагим"; "жалобу" -> "жалоб"; a word that is no known form stays whole."""
    for k in range(min(min_len, len(word)), len(word)):
        if is_ending(word[k:]):
            return word[:k]
    return word


def word_similarity(q: str, t: str) -> float:
    """Similarity of two skeleton words in [0, 1]: exact, shared stem (prefix) with endings after it, or one typo in
    the first letters."""
    if q == t:
        return 1.0
    if q.isdigit() or t.isdigit():
        return 0.0
    lq, lt = len(q), len(t)
    m, big = (lq, lt) if lq <= lt else (lt, lq)
    lcp = _lcp(q, t)
    if lcp == m:  # one is a prefix of the other: an ending was added
        if (m >= 4 or big - m <= 2) and (m >= STEM_FREE or is_ending((q if lq > lt else t)[m:])):
            return max(0.6, 0.95 - 0.35 * (big - m) / big)
        return 0.0
    # same stem, other endings (жалобу / жалобы, срока / сроки)
    if lcp >= 4 and lcp >= m - 2 and big - lcp <= 4 and (lcp >= STEM_FREE or is_ending(q[lcp:]) and is_ending(t[lcp:])):
        return 0.6 + 0.25 * lcp / m
    if lcp >= 5:
        return 0.55 + 0.2 * lcp / m
    if m >= 4:
        # lcp < m: the first 6 or 7 letters share min(lcp, 6 or 7)
        if _one_edit(q[:7], t[:7], min(lcp, 7)) or min(lq, lt) >= 6 and _one_edit(q[:6], t[:6], min(lcp, 6)):
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
    # what the entry does not answer though its words are near: phrases (folded, matched at word starts) that make
    # it less likely (OUTSIDE_FACTOR): "бот тегін бе" is not what the bot does, "группа инвалидности" no access
    outside: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Unit:
    """An example question or a title: what a query is matched against, one by one."""

    entry: int
    lang: str
    words: tuple[int, ...]  # vocabulary ids (distinct)
    idf_sum: float
    n_grams: int
    negative: bool = False  # the question is negated ("#not")
    answer: bool = False  # a sentence of the entry's answer, not a question or title


@dataclass(frozen=True)
class _WordEvidence:
    """What one query word brings to a search, whatever the rest of the query: computed once per word and kept in a
    bounded cache (`FaqIndex._evidence`)."""

    matches: tuple[tuple[int, float], ...]  # (word id, similarity) of the knowledge base's words it matches
    weight: float  # its weight in the query (`FaqIndex._weight`)
    units: Any  # np.ndarray of unit ids it matches ...
    unit_terms: Any  # ... and in two rows, what it adds there: weight * similarity of its best match, and IDF * that
    # np.ndarray, three rows of one per entry: the best similarity its vocabulary offers (at ANSWER_FACTOR for an
    # answer's word) at the word's weight; the averaged perceptron's score; the naive-Bayes log-likelihood gain
    entry_terms: Any
    grams: frozenset[str]  # its letter trigrams ...
    # ... and the units that have them, one np.ndarray of int16 (a unit once per trigram it has): a query joins 3-4
    # of them, not ~200 arrays of one trigram each, and reads a quarter of the bytes
    gram_units: Any
    strong: bool  # whether it matches a word of the knowledge base closely (at STRONG_SIM)


# Blend weights and threshold (raw score space). Tuned on the development sets and on cross-validation over the
# entries' example questions; see bench/faq_bench.py and bench/faq_cv.py.
W_UNIT = 0.35
W_ENTRY = 0.35
W_TRI = 0.20
UNIT_PRECISION = 0.5  # unit match = 0.5 * (query covered) + 0.5 * (unit covered)
ANSWER_FACTOR = 0.75  # answer words count at this similarity for entry coverage
UNKNOWN_IDF = 2.5  # weight of a query word found nowhere in the knowledge base
OTHER_LANG = 0.97  # units in the other language than the hinted one
THRESHOLD_RAW = 0.36
NO_DOMAIN_RAW = 0.55  # the threshold of a query that names nothing of the domain (`_in_domain`; by leaving sets out)
NO_DOMAIN_UNKNOWN_RAW = 0.7  # ... and of one that also has a word the knowledge base does not know
MIN_WORD_SIM = 0.55
STEM_FREE = 6  # a shared beginning this long is one stem whatever follows it (word-forming suffixes, compounds)
STRONG_SIM = 0.75  # a word match at least this close is evidence; below it, only a typo-level likeness
MIN_MASS = 3.5
CONCEPT_WEIGHT = 1.2  # a concept token: the synonyms of both languages agree (chosen by 5-fold CV: 0.7 -> 1.2)
NEGATION_MISMATCH = 0.8  # a negated query against a question that is not (or the other way round)
DF_ANSWER = 1.0  # an entry whose answer (not questions) has a word counts this much in its document frequency
OFF_TOPIC_RAW = 0.5  # a query with half of its words unknown needs at least this raw score
DEF_COV = 0.75  # a concept in this share of an entry's example questions ...
DEF_GLOBAL = 0.1  # ... and in no more than this share of all of them defines the entry
DEF_MISS = 0.95  # an entry's score when the query lacks one of its defining concepts
POSTING_MIN_IDF = 0.3  # words rarer than this in the knowledge base are not matched unit by unit
MARGIN_CONF = 0.55  # below this confidence the best entry must lead the next one by MARGIN_MIN
MARGIN_MIN = 0.03
ANSWER_UNIT = 0.9  # a sentence of an answer matched as a unit counts at this share of a question
ANSWER_UNIT_MIN = 3  # ... when it has this many words
SUGGEST_SHARE = 0.6  # a "maybe you meant" suggestion scores at least this share of the best entry on its own
W_CLS = 0.2
CLS_EPOCHS = 10
CLS_TEMP = 2.0
W_NB = 0.05  # weight of the naive-Bayes posterior over entries (re-ranks close siblings)
NB_ALPHA = 0.3
NB_ANSWER = 0.5
NB_TEMP = 1.0
OOS_ENTRY = True  # the labelled out-of-scope queries are also one more entry, "none of these", found like the others
OOS_ENTRY_SHARE = 1.0  # ... which wins at this share of its score
OOS_ALPHA = 1.0  # the out-of-scope model (`_oos_model`), chosen by leaving sets out (bench/faq_cv.py --by-set)
OOS_MIN_COUNT = 2  # a token seen fewer times in all the labelled queries says nothing of scope but that it is new
OOS_NEW_MAX = 3  # how many new words are told apart ("!new1" to "!new3")
OOS_RESCUE = -4.0  # log-odds at or below which a query that names nothing of the domain is in scope after all
OOS_REJECT = 2.5  # log-odds above which a query below OOS_REJECT_RAW is out of scope
OOS_REJECT_RAW = 0.5
OUTSIDE_FACTOR = 0.5  # an entry's score when the query names what it does not answer (`Entry.outside`)
JOIN_SIM = 0.8  # two query words joined must match a word of faq.json this closely (`FaqIndex._joined`)
ONE_WORD_SHARE = 0.85  # a one-word query whose second entry scores this share of its best names a topic, asks nothing
ONE_WORD_CONF = 0.78  # ... unless its best entry is this sure: a term of its own («ИИН», «продление»), not a topic
WORD_CACHE_SIZE = 20000  # query words whose evidence is kept (`FaqIndex._evidence`)
# the words most units have, whose evidence loading computes (`FaqIndex._warm`): the words a question most likely has
WARM_WORDS = 200


def _in_domain(toks: list[str]) -> bool:
    """Whether a query's tokens name something of the domain (`_DOMAIN_CONCEPTS`, `_DOMAIN_STEMS`)."""
    return any(t in _DOMAIN_CONCEPTS or (not t.startswith("#") and t.startswith(_DOMAIN_STEMS)) for t in toks)


def _confidence(raw: float) -> float:
    """Monotone map of the raw blend to [0, 1] with THRESHOLD_RAW -> 0.5."""
    raw = min(1.0, max(0.0, raw))
    if raw < THRESHOLD_RAW:
        return 0.5 * raw / THRESHOLD_RAW
    return 0.5 + 0.5 * (raw - THRESHOLD_RAW) / (1.0 - THRESHOLD_RAW)


# --- the model: built from faq.json and this module's word lists, or read back from its precomputed copy ------------

Pairs = tuple[tuple[int, float], ...]  # a sparse row: (id, value) pairs
Matches = tuple[tuple[int, float], ...]  # a query word's matches: (word id, similarity)


@dataclass(frozen=True)
class _Model:
    """Everything a search reads that the build computes (`_build_model`). Deterministic: the same faq.json and the
    same module give the same model, saved in bot/domain/data/faq_index.json so that loading costs a file read."""

    words: tuple[str, ...]  # word id -> word or concept token ("#court")
    idf: tuple[float, ...]  # word id -> inverse document frequency over the entries
    units: tuple[_Unit, ...]
    entry_words: tuple[Pairs, ...]  # word id -> (entry, 1.0 in its questions or ANSWER_FACTOR in its answer only)
    gram_postings: dict[str, tuple[int, ...]]  # letter trigram -> unit ids
    nb_norm: tuple[float, ...]  # entry -> log of its naive-Bayes word mass
    nb_post: tuple[Pairs, ...]  # word id -> (entry, count)
    cls: tuple[Pairs, ...]  # word id -> (entry, averaged perceptron weight)
    defining: tuple[tuple[int, ...], ...]  # entry -> its defining concepts' word ids
    # word ids of faq.json's own words (titles, questions, answers): a query word none of them is may be a typo of a
    # concept's stem, even when a further example question has the same typo ("жалба")
    own: tuple[int, ...] = ()
    # token -> log P(token | out of scope) - log P(token | in scope), and the prior log-odds (`_oos_model`)
    oos_odds: dict[str, float] = field(default_factory=dict)
    oos_prior: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "words": list(self.words),
            "idf": list(self.idf),
            "units": [
                [u.entry, u.lang, list(u.words), u.idf_sum, u.n_grams, u.negative, u.answer] for u in self.units
            ],
            "entry_words": [_pairs_out(p) for p in self.entry_words],
            "gram_postings": {g: list(v) for g, v in self.gram_postings.items()},
            "nb_norm": list(self.nb_norm),
            "nb_post": [_pairs_out(p) for p in self.nb_post],
            "cls": [_pairs_out(p) for p in self.cls],
            "defining": [list(d) for d in self.defining],
            "own": list(self.own),
            "oos_odds": self.oos_odds,
            "oos_prior": self.oos_prior,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> _Model:
        return cls(
            words=tuple(d["words"]),
            idf=tuple(d["idf"]),
            units=tuple(_Unit(e, lang, tuple(w), s, n, neg, a) for e, lang, w, s, n, neg, a in d["units"]),
            entry_words=tuple(_pairs_in(p) for p in d["entry_words"]),
            gram_postings={g: tuple(v) for g, v in d["gram_postings"].items()},
            nb_norm=tuple(d["nb_norm"]),
            nb_post=tuple(_pairs_in(p) for p in d["nb_post"]),
            cls=tuple(_pairs_in(p) for p in d["cls"]),
            defining=tuple(tuple(x) for x in d["defining"]),
            own=tuple(d["own"]),
            oos_odds=dict(d["oos_odds"]),
            oos_prior=d["oos_prior"],
        )


def _pairs_out(pairs: Pairs) -> list[int | float]:
    return [x for pair in pairs for x in pair]


def _pairs_in(flat: list[Any]) -> Pairs:
    return tuple(zip(flat[::2], flat[1::2], strict=True))


def _unit_texts(entries: list[Entry]) -> list[tuple[int, str, str]]:
    """(entry index, language, text) of every title and example question, in a fixed order."""
    out: list[tuple[int, str, str]] = []
    for ei, e in enumerate(entries):
        for lang in LANGS:
            if e.title.get(lang):
                out.append((ei, lang, e.title[lang]))
            out.extend((ei, lang, q) for q in e.questions.get(lang, []))
    return out


_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+|\s+[•—–-]\s+")


def _sentences(text: str) -> list[str]:
    """An answer's sentences (and list items): each is matched on its own, like an example question."""
    return [t for t in (p.strip() for p in _SENTENCE_END.split(text)) if t]


def _answer_words(text: str) -> list[str]:
    """An answer's distinct tokens but its "не" and "кто": they say nothing of the question it answers."""
    return [w for w in dict.fromkeys(tokens(text)) if w != "#not" and w not in _QUESTION_CONCEPTS]


class _Vocabulary:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.words: list[str] = []

    def id(self, w: str) -> int:
        i = self.ids.get(w)
        if i is None:
            i = self.ids[w] = len(self.words)
            self.words.append(w)
        return i


def _entry_vocabulary(
    entries: list[Entry], unit_tokens: list[tuple[int, list[str]]], vocab: _Vocabulary
) -> list[dict[int, float]]:
    """Entry -> word id -> 1.0 (in its questions or title) or ANSWER_FACTOR (only in its answer)."""
    entry_best: list[dict[int, float]] = [{} for _ in entries]
    for ei, toks in unit_tokens:
        for w in toks:
            entry_best[ei][vocab.id(w)] = 1.0
    for ei, e in enumerate(entries):
        for lang in LANGS:
            for w in tokens(e.answer.get(lang, "")):
                if w != "#not" and w not in _QUESTION_CONCEPTS:
                    entry_best[ei].setdefault(vocab.id(w), ANSWER_FACTOR)
    return entry_best


def _naive_bayes(
    entries: list[Entry], unit_tokens: list[tuple[int, list[str]]], vocab: _Vocabulary
) -> tuple[tuple[float, ...], tuple[Pairs, ...]]:
    """Word counts per entry (each example question and title once, answers at NB_ANSWER): the log of each entry's
    smoothed mass, and word id -> (entry, count)."""
    counts: list[dict[int, float]] = [{} for _ in entries]
    for ei, toks in unit_tokens:
        for w in dict.fromkeys(toks):
            wid = vocab.ids[w]
            counts[ei][wid] = counts[ei].get(wid, 0.0) + 1.0
    for ei, e in enumerate(entries):
        for lang in LANGS:
            for w in _answer_words(e.answer.get(lang, "")):
                wid = vocab.ids[w]
                counts[ei][wid] = counts[ei].get(wid, 0.0) + NB_ANSWER
    nv = len(vocab.words)
    norm = tuple(math.log(sum(c.values()) + NB_ALPHA * nv) for c in counts)
    post: list[list[tuple[int, float]]] = [[] for _ in vocab.words]
    for ei, c in enumerate(counts):
        for wid, k in c.items():
            post[wid].append((ei, k))
    return norm, tuple(tuple(p) for p in post)


def _new_marks(toks: list[str] | set[str], seen: Callable[[str], bool]) -> list[str]:
    """Marks of how many topical words of a query the out-of-scope model has not seen ("!new1", "!new2", ...): learned
    from the words met once in all the labelled queries, read at search time from the words it never met."""
    n = sum(1 for t in set(toks) if not t.startswith("#") and not t.isdigit() and t not in _GENERIC and not seen(t))
    return [f"!new{i}" for i in range(1, min(n, OOS_NEW_MAX) + 1)]


def _oos_model(in_scope: list[list[str]], out_of_scope: list[list[str]]) -> tuple[dict[str, float], float]:
    """A two-class naive Bayes (each token once per query, Laplace-smoothed at OOS_ALPHA) of the example questions
    against the labelled sets' out-of-scope queries: the log-odds of "none of these" per token, and the prior.
    Learned from data rather than written by hand: what the in-domain evidence (`_in_domain`) may overrule."""
    if not out_of_scope:
        return {}, 0.0
    total: dict[str, int] = {}
    for toks in in_scope + out_of_scope:
        for t in set(toks):
            total[t] = total.get(t, 0) + 1
    c_in: dict[str, int] = {}
    c_out: dict[str, int] = {}
    for docs, c in ((in_scope, c_in), (out_of_scope, c_out)):
        for toks in docs:
            for t in {*toks, *_new_marks(toks, lambda w: total[w] >= OOS_MIN_COUNT)}:
                c[t] = c.get(t, 0) + 1
    n_in, n_out = len(in_scope), len(out_of_scope)
    odds = {
        t: round(
            math.log((c_out.get(t, 0) + OOS_ALPHA) / (n_out + 2 * OOS_ALPHA))
            - math.log((c_in.get(t, 0) + OOS_ALPHA) / (n_in + 2 * OOS_ALPHA)),
            4,
        )
        for t in sorted({*c_in, *c_out})
        if c_in.get(t, 0) + c_out.get(t, 0) >= OOS_MIN_COUNT
    }
    return odds, round(math.log(n_out / n_in), 4)


def _perceptron_predict(w: dict[int, list[float]], feats: list[int], n: int) -> int:
    sc = [0.0] * n
    for f in feats:
        row = w.get(f)
        if row is not None:
            for c in range(n):
                sc[c] += row[c]
    return max(range(n), key=lambda c: (sc[c], -c))


class _Perceptron:
    """An averaged multi-class perceptron over the example questions' words and concepts: which words tell an entry
    from its neighbours. Deterministic (fixed order, fixed seed, fixed epochs)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.w: dict[int, list[float]] = {}
        self.acc: dict[int, list[float]] = {}
        self.last: dict[int, list[int]] = {}
        self.t = 0

    def update(self, feats: list[int], gold: int, pred: int) -> None:
        n, t = self.n, self.t
        for f in feats:
            row = self.w.setdefault(f, [0.0] * n)
            arow = self.acc.setdefault(f, [0.0] * n)
            lrow = self.last.setdefault(f, [0] * n)
            for c, d in ((gold, 1.0), (pred, -1.0)):
                arow[c] += (t - lrow[c]) * row[c]
                lrow[c] = t
                row[c] += d

    def train(self, samples: list[tuple[int, list[int]]]) -> None:
        rng = random.Random(1)
        order = list(range(len(samples)))
        for _epoch in range(CLS_EPOCHS):
            rng.shuffle(order)
            for si in order:
                self.t += 1
                gold, feats = samples[si]
                pred = _perceptron_predict(self.w, feats, self.n)
                if pred != gold:
                    self.update(feats, gold, pred)

    def averaged(self, n_words: int) -> tuple[Pairs, ...]:
        out: list[Pairs] = [() for _ in range(n_words)]
        t = self.t
        for f, row in self.w.items():
            arow, lrow = self.acc[f], self.last[f]
            avg = ((c, (arow[c] + (t - lrow[c]) * row[c]) / t) for c in range(self.n))
            out[f] = tuple((c, v) for c, v in avg if v)
        return tuple(out)


def _defining(units: list[_Unit], words: list[str], n_entries: int) -> tuple[tuple[int, ...], ...]:
    """An entry's defining concepts: in most of its example questions and rare elsewhere ("#court" for court)."""
    total: dict[int, int] = {}
    per_entry: list[dict[int, int]] = [{} for _ in range(n_entries)]
    n_entry = [0] * n_entries
    for u in units:
        n_entry[u.entry] += 1
        for wid in u.words:
            w = words[wid]
            if w.startswith("#") and w != "#not" and w not in _QUESTION_CONCEPTS:
                total[wid] = total.get(wid, 0) + 1
                per_entry[u.entry][wid] = per_entry[u.entry].get(wid, 0) + 1
    n_units = len(units)
    return tuple(
        tuple(wid for wid, k in counts.items() if k >= DEF_COV * n_entry[ei] and total[wid] <= DEF_GLOBAL * n_units)
        for ei, counts in enumerate(per_entry)
    )


def _add_unit(units: list[_Unit], gram_postings: dict[str, list[int]], ei: int, lang: str, wids: tuple[int, ...],
              idf: list[float], grams: frozenset[str], *, negative: bool = False, answer: bool = False) -> None:
    """One unit (an example question, a title or a sentence of an answer) and its letter trigrams' postings."""
    units.append(_Unit(ei, lang, wids, sum(idf[w] for w in wids) or 1.0, len(grams), negative, answer))
    for g in grams:
        gram_postings.setdefault(g, []).append(len(units) - 1)


def _add_answer_units(
    entries: list[Entry], vocab: _Vocabulary, idf: list[float], units: list[_Unit], gram_postings: dict[str, list[int]]
) -> None:
    """Each sentence of an entry's answer as a unit of its own (matched like an example question), after them."""
    for ei, e in enumerate(entries):
        for lang in LANGS:
            for sentence in _sentences(e.answer.get(lang, "")):
                words = [w for w in _answer_words(sentence) if w in vocab.ids]
                if len(words) < ANSWER_UNIT_MIN:
                    continue
                wids = tuple(vocab.ids[w] for w in words)
                _add_unit(units, gram_postings, ei, lang, wids, idf, _trigrams(sentence), answer=True)


def _build_model(own_entries: list[Entry], examples: Examples) -> _Model:
    """The model of the entries with the further example questions (`_with_examples`)."""
    entries = _with_examples(own_entries, examples)
    texts = _unit_texts(entries)
    unit_tokens = [(ei, tokens(text)) for ei, _lang, text in texts]
    oos_odds, oos_prior = _oos_model(
        [toks for ei, toks in unit_tokens if entries[ei].id != OOS_KEY],
        [tokens(q) for qs in examples.get(OOS_KEY, {}).values() for q in qs],
    )
    vocab = _Vocabulary()
    entry_best = _entry_vocabulary(entries, unit_tokens, vocab)
    n, nv = len(entries), len(vocab.words)
    df = [0.0] * nv
    entry_words: list[list[tuple[int, float]]] = [[] for _ in range(nv)]
    real = [e.id != OOS_KEY for e in entries]  # the "none of these" entry counts in no word's rarity or class
    n_real = sum(real)
    for ei, best in enumerate(entry_best):
        for wid, f in best.items():
            df[wid] += (1.0 if f == 1.0 else DF_ANSWER) * real[ei]
            entry_words[wid].append((ei, f))
    idf = [math.log((n_real - d + 0.5) / (d + 0.5) + 1.0) for d in df]
    nb_norm, nb_post = _naive_bayes(entries, unit_tokens, vocab)
    cls: tuple[Pairs, ...] = tuple(() for _ in range(nv))
    if W_CLS:
        perceptron = _Perceptron(n)
        perceptron.train([(ei, [vocab.ids[w] for w in dict.fromkeys(toks)]) for ei, toks in unit_tokens if real[ei]])
        cls = perceptron.averaged(nv)
    for g in _GENERIC:
        gid = vocab.ids.get(g)
        if gid is not None:
            idf[gid] = min(idf[gid], GENERIC_IDF)
    units: list[_Unit] = []
    gram_postings: dict[str, list[int]] = {}
    for (ei, lang, text), (_ei, toks) in zip(texts, unit_tokens, strict=True):
        wids = tuple(dict.fromkeys(vocab.ids[w] for w in toks))
        negative = "#not" in (vocab.words[w] for w in wids)
        _add_unit(units, gram_postings, ei, lang, wids, idf, _trigrams(text), negative=negative)
    questions = list(units)  # an entry's defining concepts are read from its questions and title only
    if ANSWER_UNIT:
        _add_answer_units(entries, vocab, idf, units, gram_postings)
    return _Model(
        words=tuple(vocab.words),
        idf=tuple(idf),
        units=tuple(units),
        entry_words=tuple(tuple(p) for p in entry_words),
        gram_postings={g: tuple(gram_postings[g]) for g in sorted(gram_postings)},  # not in a set's order
        nb_norm=nb_norm,
        nb_post=nb_post,
        cls=cls,
        defining=_defining(questions, vocab.words, n),
        own=_own_words(own_entries, vocab),
        oos_odds=oos_odds,
        oos_prior=oos_prior,
    )


def fingerprint(faq_bytes: bytes, examples_bytes: bytes | None = None) -> str:
    """What the model depends on: the knowledge base, the further example questions (default: the packaged ones)
    and this module (its word lists, weights and code)."""
    h = hashlib.sha256(faq_bytes)
    h.update(b"\0" + (_read_bytes(EXAMPLES_PATH) if examples_bytes is None else examples_bytes) + b"\0")
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _parse_examples(raw: bytes) -> Examples:
    """The further example questions of a faq_examples.json ({"examples": {id: {lang: [...]}}}); none when empty."""
    return {k: {lang: list(v) for lang, v in d.items()} for k, d in json.loads(raw)["examples"].items()} if raw else {}


def _own_words(entries: list[Entry], vocab: _Vocabulary) -> tuple[int, ...]:
    """The ids of the words (not concepts) of the entries' own titles, questions and answers."""
    own: set[int] = set()
    for e in entries:
        for lang in LANGS:
            for text in [e.title.get(lang, ""), e.answer.get(lang, ""), *e.questions.get(lang, [])]:
                own.update(vocab.ids[w] for w in tokens(text) if not w.startswith("#") and w in vocab.ids)
    return tuple(sorted(own))


def _with_examples(entries: list[Entry], examples: Examples) -> list[Entry]:
    """The entries with the further example questions after their own (for the model only: an entry shows its own)."""
    if not examples:
        return entries
    known = {e.id for e in entries} | {OOS_KEY}
    if set(examples) - known:
        raise ValueError(f"examples for unknown FAQ entries: {sorted(set(examples) - known)}")
    out = []
    for e in entries:
        more = examples.get(e.id, {})
        qs = {lang: list(e.questions.get(lang, [])) + list(more.get(lang, [])) for lang in {*e.questions, *more}}
        out.append(Entry(e.id, e.category, e.title, e.answer, qs, e.source, e.outside))
    if OOS_ENTRY and examples.get(OOS_KEY):
        out.append(_none_entry(examples[OOS_KEY]))
    return out


def _none_entry(questions: dict[str, list[str]]) -> Entry:
    """The "none of these" entry: the labelled out-of-scope queries as its example questions, no title, no answer."""
    return Entry(OOS_KEY, "", {}, {}, {lang: list(qs) for lang, qs in questions.items()}, "")


def _read_precomputed(fp: str, path: Path = INDEX_PATH) -> _Model | None:
    """The precomputed model when it was built from the same knowledge base by the same module, else None."""
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("fingerprint") != fp:
        return None
    return _Model.from_json(data)


def precomputed_json(faq_path: Path = DEFAULT_PATH) -> str:
    """The text of bot/domain/data/faq_index.json for the knowledge base at `faq_path`: one key a line."""
    raw = faq_path.read_bytes()
    examples_raw = _read_bytes(faq_path.with_name(EXAMPLES_NAME))
    model = _build_model(_parse(json.loads(raw))[1], _parse_examples(examples_raw))
    data = {"fingerprint": fingerprint(raw, examples_raw), **model.to_json()}
    lines = (f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False, separators=(',', ':'))}" for k, v in data.items())
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _parse(data: dict[str, Any]) -> tuple[list[Category], list[Entry]]:
    cats = [Category(id=c["id"], title=dict(c["title"])) for c in data.get("categories", [])]
    entries = [
        Entry(
            id=e["id"],
            category=e["category"],
            title=dict(e["title"]),
            answer=dict(e["answer"]),
            questions={k: list(v) for k, v in e["questions"].items()},
            source=e.get("source", ""),
            outside=tuple(e.get("outside", ())),
        )
        for e in data["entries"]
    ]
    return cats, entries


# --- the index ------------------------------------------------------------------------------------------------------


_V = TypeVar("_V")


class _Bounded(dict[str, _V]):
    """A per-word cache of at most WORD_CACHE_SIZE entries: when full, the oldest word goes."""

    def put(self, key: str, value: _V) -> _V:
        if len(self) >= WORD_CACHE_SIZE:
            del self[next(iter(self))]
        self[key] = value
        return value


class FaqIndex:
    """The knowledge base and its search. `FaqIndex.load()` reads the packaged faq.json (and its precomputed model);
    `search()` answers a query."""

    def __init__(self, version: int, categories: list[Category], entries: list[Entry], model: _Model) -> None:
        self.version = version
        self._categories = categories
        self._public = list(entries)
        if len(model.nb_norm) == len(entries) + 1:  # the model has the "none of these" entry (`_none_entry`)
            entries = [*entries, _none_entry({})]
        self._entries = entries
        self._none = len(entries) - 1 if entries and entries[-1].id == OOS_KEY else -1
        self._by_id = {e.id: i for i, e in enumerate(entries)}
        if len(self._by_id) != len(entries):
            raise ValueError("duplicate FAQ entry ids")
        self._m = model
        self._vocab = {w: i for i, w in enumerate(model.words)}
        self._known = frozenset(model.words[w] for w in model.own)
        self._prefix: dict[str, list[int]] = {}
        self._prefix3: dict[str, list[int]] = {}
        self._dels: dict[str, list[int]] = {}
        self._index_words()
        self._word_cache: _Bounded[_WordEvidence] = _Bounded()
        self._join_cache: _Bounded[bool] = _Bounded()  # two words joined -> whether they are one word of faq.json's
        self._defining = [(ei, d) for ei, d in enumerate(model.defining) if d]
        # an entry's factor for its defining concepts depends only on how many of them the query lacks
        self._def_count = np.array([len(d) for d in model.defining], dtype=np.intp)
        self._defined_by: dict[int, list[int]] = {}  # concept's word id -> the entries it defines
        for ei, d in self._defining:
            for wid in d:
                self._defined_by.setdefault(wid, []).append(ei)
        miss = [1.0]  # DEF_MISS multiplied in once per concept lacking, as a loop over them would
        for _ in range(int(self._def_count.max(initial=0))):
            miss.append(miss[-1] * DEF_MISS)
        self._def_miss = miss
        # the factors of a query that names none of them (two queries in three name none): no array to build
        self._no_concept_factor = np.array([miss[k] for k in self._def_count.tolist()])
        self._outside = [(ei, _phrase_rx(e.outside)) for ei, e in enumerate(entries) if e.outside]
        self._outside_any = _phrase_rx(tuple(p for e in entries for p in e.outside)) if self._outside else None
        self._arrays()

    # --- construction ---------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path | None = None) -> FaqIndex:
        """The knowledge base at `path` (default: the packaged one); its precomputed model when it is current (the
        same faq.json and the same module built it), else the model is built (about a second)."""
        p = Path(path) if path is not None else DEFAULT_PATH
        raw = p.read_bytes()
        examples_raw = _read_bytes(p.with_name(EXAMPLES_NAME))
        data = json.loads(raw)
        cats, entries = _parse(data)
        model = _read_precomputed(fingerprint(raw, examples_raw)) or _build_model(entries, _parse_examples(examples_raw))
        index = cls(int(data.get("version", 1)), cats, entries, model)
        index._warm()
        return index

    def _warm(self, n: int = WARM_WORDS) -> None:
        """Computes the evidence of the `n` words most units have (ties: the first word first) into the word cache:
        a question's words are new to a fresh process, and the first search of a word costs ~0.1 ms (measured: the
        bench's 168 questions meet 438 words of the knowledge base, 164 of them among these 200; ~25 ms more to load,
        ~1 MB). Only `load()` warms: indexes built from data in tests do not pay it."""
        counts = [len(p) for p in self._postings]
        for wid in sorted(range(len(counts)), key=counts.__getitem__, reverse=True)[:n]:
            self._evidence(self._m.words[wid])

    @classmethod
    def from_dict(cls, data: dict[str, Any], examples: Examples | None = None) -> FaqIndex:
        """The index of a knowledge base given as data, with further example questions (default: the packaged
        ones; {} for none)."""
        cats, entries = _parse(data)
        more = _parse_examples(_read_bytes(EXAMPLES_PATH)) if examples is None else examples
        return cls(int(data.get("version", 1)), cats, entries, _build_model(entries, more))

    def _arrays(self) -> None:
        """The units' attributes as arrays, so that a query scores every unit in a few array operations. The units are
        numbered here in entry order: a per-entry maximum is then one reduceat, with no gather."""
        model_units = self._m.units
        n = len(self._entries)
        counts = np.bincount(np.array([u.entry for u in model_units], dtype=np.intp), minlength=n)
        if n and counts.min() == 0:
            raise ValueError("every FAQ entry needs a title or an example question")
        order = sorted(range(len(model_units)), key=lambda ui: model_units[ui].entry)
        self._entry_starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.intp)
        new_id = np.empty(len(model_units), dtype=np.intp)
        new_id[order] = np.arange(len(model_units))
        units = [model_units[i] for i in order]
        self._postings: list[list[int]] = [[] for _ in self._m.words]  # word id -> unit ids (in this numbering)
        for ui, u in enumerate(units):
            for w in u.words:
                self._postings[w].append(ui)
        self._u_idf_sum = np.array([u.idf_sum for u in units], dtype=np.float64)
        is_answer = np.array([u.answer for u in units], dtype=bool)
        negative = np.array([u.negative and not u.answer for u in units], dtype=bool)
        positive = np.array([not u.negative and not u.answer for u in units], dtype=bool)
        other = {lang: np.array([u.lang != lang for u in units], dtype=bool) for lang in LANGS}
        # each unit's factor, one multiplication per query: a unit in the other language than the hinted one; a
        # sentence of the answer (the words people who read it ask with, less than a question); a negated question
        # for a query that is not, or the other way round ("не ответили" is a different question from "когда ответят")
        answer = np.where(is_answer, ANSWER_UNIT, 1.0)
        self._g_factor: dict[str | None, np.ndarray] = {None: answer}
        self._g_factor.update({lang: answer * np.where(o, OTHER_LANG, 1.0) for lang, o in other.items()})
        self._u_factor = {
            (lang, neg): f * np.where(positive if neg else negative, NEGATION_MISMATCH, 1.0)
            for lang, f in self._g_factor.items()
            for neg in (False, True)
        }
        # trigram -> its units, in int16 as a word's `gram_units` joins them (8,200 units)
        self._grams = {
            g: np.sort(new_id[np.array(v, dtype=np.intp)]).astype(np.int16) for g, v in self._m.gram_postings.items()
        }
        self._n_grams = np.array([u.n_grams for u in units], dtype=np.int16)  # each unit's trigrams (int16: 16 kB)
        self._g2_factor = {lang: 2.0 * f for lang, f in self._g_factor.items()}
        self._nb_log_prior = math.log(NB_ALPHA) - np.array(self._m.nb_norm, dtype=np.float64)
        self._temps = np.array([[CLS_TEMP], [NB_TEMP]])  # the perceptron's and the naive-Bayes softmax temperatures

    def _per_entry_max(self, v: np.ndarray) -> np.ndarray:
        """Per entry, the largest of its units' values."""
        if not len(v):
            return np.zeros(len(self._entries))
        return np.maximum.reduceat(v, self._entry_starts)

    def _index_words(self) -> None:
        """Candidate generators for fuzzy word matching: by the first 4 (or 3) letters, and by the first 6-7 letters
        less one letter (one typo)."""
        for wid, w in enumerate(self._m.words):
            if w.isdigit() or w.startswith("#"):
                continue
            self._prefix.setdefault(w[:4] if len(w) >= 4 else w, []).append(wid)
            self._prefix3.setdefault(w[:3], []).append(wid)
            if len(w) >= 4:
                for d in _deletes(w[:6]) | _deletes(w[:7]):
                    self._dels.setdefault(d, []).append(wid)
        # each list holds distinct word ids in increasing order: every word is added once per key, in order

    def _query_tokens(self, query: str, sk: str | None = None, toks: list[str] | None = None) -> list[str]:
        """A query's distinct tokens, typo-tolerant concepts for the words the knowledge base does not know, and two
        words written apart that the knowledge base writes as one ("түп нұсқа" ~ "түпнұсқа", `_joined`). `toks`: its
        `tokens(fuzzy=True, known=...)` when known."""
        sk = skeleton(query) if sk is None else sk
        if toks is None:
            toks = tokens(query, fuzzy=True, known=self._known, sk=sk)
        return list(dict.fromkeys(toks + self._joined(sk)))

    def _joined(self, sk: str) -> list[str]:
        """Adjacent words of a query, one of them unknown (no close match), that joined are a word of faq.json's own
        (with endings)."""
        words = sk.split()
        out = []
        for a, b in zip(words, words[1:], strict=False):
            if len(a) < 2 or len(b) < 3 or a in _NO_JOIN or b in _NO_JOIN or not (a + b).isalpha():
                continue
            if self._strong(a) and self._strong(b):
                continue
            j = a + b
            ok = self._join_cache.get(j)
            if ok is None:
                ok = self._join_cache.put(j, any(
                    s >= JOIN_SIM and (k := self._m.words[w]) in self._known and k.startswith(a) and len(k) > len(a) + 2
                    for w, s in self._compute_matches(j)
                ))
            if ok:
                out.append(j)
        return out

    def _strong(self, word: str) -> bool:
        """Whether a word matches a word of the knowledge base closely (at STRONG_SIM)."""
        return self._evidence(word).strong

    # --- word matching --------------------------------------------------------------------------------------------

    def _compute_matches(self, q: str) -> Matches:
        if q.isdigit() or q.startswith("#"):
            wid = self._vocab.get(q)
            return ((wid, 1.0),) if wid is not None else ()
        cand: set[int] = set()
        if len(q) >= 4:
            cand.update(self._prefix.get(q[:4], ()))
            for d in _deletes(q[:6]) | _deletes(q[:7]):
                cand.update(self._dels.get(d, ()))
        else:
            cand.update(self._prefix3.get(q, ()))
        out = []
        for wid in cand:
            s = word_similarity(q, self._m.words[wid])
            if s >= MIN_WORD_SIM:
                out.append((wid, s))
        return tuple(out)

    # --- scoring --------------------------------------------------------------------------------------------------

    def raw_scores(self, query: str, lang: str | None = None) -> dict[int, float]:
        """Raw blended score per entry index (only entries with any evidence)."""
        out, _base, cand = self._scores(query, lang)
        return {int(ei): float(out[ei]) for ei in np.flatnonzero(cand)}

    def _weight(self, q: str, m: Matches) -> float:
        """How much a query word weighs: little when generic, a service's name, or a word whose concept token (added
        too) carries the evidence; as unknown when it only looks like a known word; else its IDF."""
        concept = None if q.startswith("#") else _concept(q, q not in self._known)
        if q in _GENERIC or concept == "#service" or (concept is not None and not any(s >= STRONG_SIM for _, s in m)):
            return GENERIC_IDF
        if not m:
            return UNKNOWN_IDF
        best = max(s for _, s in m)
        w = max(self._m.idf[w] for w, s in m if s == best)
        if best < STRONG_SIM:  # only a typo-level match: weak evidence, the word still weighs as unknown
            w = max(w, UNKNOWN_IDF)
        return w * (CONCEPT_WEIGHT if q.startswith("#") else 1.0)

    def _evidence(self, q: str) -> _WordEvidence:
        """What a query word brings, whatever the rest of the query (`_word_evidence`), from a bounded cache."""
        ev = self._word_cache.get(q)
        if ev is None:
            ev = self._word_cache.put(q, self._word_evidence(q))
        return ev

    def _word_evidence(self, q: str) -> _WordEvidence:
        """A query word's matches, weight and evidence: per unit, its best match (similarity and IDF; the first of
        equal ones); per entry, the best similarity its vocabulary offers (at ANSWER_FACTOR for an answer's word), the
        naive-Bayes gain and the perceptron's score. Each value is the same product, maximum or sum in the same order
        as numpy arrays filled match by match give (tests/test_faq_fast.py), in Python floats and C-level dict
        operations, with one numpy array made per kind: a word new to the search costs ~40 us less (measured on the
        bench's questions: ~90 -> ~50 us a word)."""
        m = self._compute_matches(q)
        wt = self._weight(q, m)
        n = len(self._entries)
        idf = self._m.idf
        # "жалоба", "#complaint": in half of the units, worth next to nothing
        kept = [(wid, s, idf[wid]) for wid, s in m if idf[wid] >= POSTING_MIN_IDF]
        units, pick = self._best_units([self._postings[wid] for wid, _, _ in kept], [s for _, s, _ in kept])
        unit_terms = np.array([[wt * s for _, s, _ in kept], [wi * s for _, s, wi in kept]]).reshape(2, -1)[:, pick]
        terms = [0.0] * (3 * n)  # per entry: coverage at the word's weight, the perceptron's score, the naive-Bayes gain
        cover: dict[int, float] = {}
        for wid, s, _ in kept:
            for ei, f in self._m.entry_words[wid]:
                if s * f > cover.get(ei, 0.0):
                    cover[ei] = s * f
        for ei, v in cover.items():
            terms[ei] = wt * v
        self._cls_score(m, terms, n)
        self._nb_gain(m, wt, terms, 2 * n)
        p = f" {q} "
        grams = frozenset(p[i : i + 3] for i in range(len(p) - 2))
        found = [self._grams[g] for g in sorted(grams) if g in self._grams]
        return _WordEvidence(
            m, wt, units, unit_terms, np.array(terms), grams,
            np.concatenate(found) if found else np.zeros(0, dtype=np.int16),
            any(s >= STRONG_SIM for _, s in m),
        )

    @staticmethod
    def _best_units(postings: list[list[int]], sims: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """The units of the matches' postings in the order a loop over them first meets them, and for each which
        match is the first of its best ones: a dict of them in that order, its values set match by match from the
        least to the most preferred (lower similarity, then later in the matches), so the most preferred one's
        index stays."""
        if len(postings) == 1:
            return np.array(postings[0], dtype=np.intp), np.zeros(len(postings[0]), dtype=np.intp)
        best: dict[int, int] = dict.fromkeys(chain.from_iterable(postings), 0)
        for k in sorted(range(len(sims)), key=lambda k: (sims[k], -k)):
            best.update(zip(postings[k], repeat(k)))
        return (
            np.fromiter(best, dtype=np.intp, count=len(best)),
            np.fromiter(best.values(), dtype=np.intp, count=len(best)),
        )

    def _nb_gain(self, m: Matches, wt: float, out: list[float], at: int) -> None:
        """Per entry, the naive-Bayes log-likelihood gain of a query word (its best count among the words it
        matches closely), at its weight: into `out` from `at` on."""
        nb_ev: dict[int, float] = {}  # entry -> best count of a word matching this query word
        for wid, s in m:
            if s >= STRONG_SIM:
                for ei, c in self._m.nb_post[wid]:
                    if s * c > nb_ev.get(ei, 0.0):
                        nb_ev[ei] = s * c
        log_alpha = math.log(NB_ALPHA)
        for ei, c in nb_ev.items():
            out[at + ei] = wt * (math.log(c + NB_ALPHA) - log_alpha) / NB_TEMP

    def _cls_score(self, m: Matches, out: list[float], at: int) -> None:
        """Per entry, the averaged perceptron's score of a query word (its best matches, when close): added into
        `out` from `at` on."""
        best = max((s for _, s in m), default=0.0)
        if best >= STRONG_SIM:
            for wid, s in m:
                if s == best:
                    for c, v in self._m.cls[wid]:
                        out[at + c] += s * v

    def _unit_scores(self, evs: list[_WordEvidence], wsum: float, lang: str | None, negative: bool) -> np.ndarray:
        """Per entry, its best unit's match: precision over the query blended with recall over the unit (IDF-weighted
        soft matches of the query's words). Each unit's sums are one bincount over the query words' units, which adds
        in query word order like a loop over them would; the blend is computed only where a query word matched (a
        tenth of the units; elsewhere it is 0), once per word that matched there (measured: 25 us a query less)."""
        n_units = len(self._u_idf_sum)
        units = np.concatenate([ev.units for ev in evs])
        terms = np.concatenate([ev.unit_terms for ev in evs], axis=1)
        prec = np.bincount(units, terms[0], n_units)[units]
        rec = np.bincount(units, terms[1], n_units)[units]
        v = np.zeros(n_units)
        v[units] = (
            UNIT_PRECISION * (prec / wsum) + (1.0 - UNIT_PRECISION) * np.minimum(1.0, rec / self._u_idf_sum[units])
        ) * self._u_factor[lang if lang in self._g_factor else None, negative][units]
        return self._per_entry_max(v)

    def _trigram_scores(self, words: list[str], lang: str | None) -> np.ndarray:
        """Per entry, its best unit's Dice overlap of letter trigrams with the query's words (typos, glued or split
        words)."""
        evs = [self._evidence(w) for w in words]
        if not any(len(ev.gram_units) for ev in evs):
            return np.zeros(len(self._entries))
        n_units = len(self._n_grams)
        hits = np.bincount(np.concatenate([ev.gram_units for ev in evs]), minlength=n_units)
        n_grams = sum(len(ev.grams) for ev in evs)
        grams = frozenset().union(*(ev.grams for ev in evs)) if len(evs) > 1 else evs[0].grams
        if len(grams) < n_grams:  # a trigram of several words counts once: take the repeats off
            seen: set[str] = set()
            again = []
            for ev in evs:
                again += [self._grams[g] for g in ev.grams & seen if g in self._grams]
                seen |= ev.grams
            if again:
                np.subtract.at(hits, np.concatenate(again), 1)
        # 2 * hits / (len(grams) + unit's grams), times the unit's factor: (h / d) * 2f is (2h / d) * f to the last
        # bit (doubling is exact), and one pass fewer
        v = hits / (self._n_grams + float(len(grams)))
        np.multiply(v, self._g2_factor[lang if lang in self._g_factor else None], out=v)
        return self._per_entry_max(v)

    @staticmethod
    def _softmax(v: np.ndarray, temp: float | np.ndarray = 1.0) -> np.ndarray:
        """The softmax of each row of `v` at its temperature (a column of them, or one for all)."""
        e: np.ndarray = np.exp((v - v.max(axis=-1, keepdims=True)) / temp)
        out: np.ndarray = e / e.sum(axis=-1, keepdims=True)
        return out

    def _scores(
        self, query: str, lang: str | None, sk: str | None = None, qtoks: list[str] | None = None,
        words: list[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The blend per entry index, the same without the perceptron's penalty (how close an entry is, for the
        "maybe you meant" suggestions, rather than how it ranks), and which entries have any evidence. `words`: the
        query's words (`tokens(concepts=False)`), for the trigrams."""
        n = len(self._entries)
        sk = skeleton(query) if sk is None else sk
        qtoks = self._query_tokens(query, sk) if qtoks is None else qtoks
        if not qtoks:
            return np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
        evs = [self._evidence(q) for q in qtoks]
        weights = [ev.weight for ev in evs]
        # A query made only of very common words ("можно ли подать жалобу") must not look like a perfect match:
        # normalise by at least MIN_MASS of IDF.
        wsum = max(sum(weights), MIN_MASS)
        unit_score = self._unit_scores(evs, wsum, lang, "#not" in qtoks)
        tri_score = self._trigram_scores(tokens(query, concepts=False, sk=sk) if words is None else words, lang)
        # the query words' entry coverage, perceptron scores and naive-Bayes gains, added word by word in one array
        # (the naive-Bayes row starts from the prior, each query word counted at its weight)
        acc = np.concatenate((np.zeros(2 * n), (sum(weights) * self._nb_log_prior) / NB_TEMP))
        for ev in evs:
            acc += ev.entry_terms
        cov = acc[:n]
        # both softmaxes at once, row by row: the perceptron's and the naive-Bayes posterior over the entries
        p = self._softmax(acc[n:].reshape(2, n), self._temps)
        # the perceptron's softmax probability of each entry less that of its best: a penalty for the entries it
        # finds less likely; it re-ranks, it never makes a query look more in scope
        cls = p[0] - p[0].max() if W_CLS else np.zeros(n)
        nb = p[1] if W_NB else np.zeros(n)
        factor = self._entry_factors(qtoks, sk)
        base = factor * (
            W_UNIT * unit_score + W_ENTRY * np.minimum(1.0, cov / wsum) + W_TRI * tri_score + W_NB * nb
        )
        out = base + factor * W_CLS * cls
        return out, base, unit_score + tri_score + cov > 0  # none of them < 0: the sum > 0 where one of them is

    def _entry_factors(self, qtoks: list[str], sk: str) -> np.ndarray:
        """Per entry, how much less likely the query makes it: DEF_MISS for each defining concept the query does not
        name (a court question names a court), OUTSIDE_FACTOR when it names what the entry does not answer."""
        qwids = {self._vocab[t] for t in qtoks if t.startswith("#") and t in self._vocab}
        missing: dict[int, int] = {}  # entry -> how many of its defining concepts the query lacks, if it names one
        for wid in qwids:
            for ei in self._defined_by.get(wid, ()):
                missing[ei] = missing.get(ei, int(self._def_count[ei])) - 1
        factor = self._no_concept_factor
        if missing:
            factor = factor.copy()
            for ei, k in missing.items():
                factor[ei] = self._def_miss[k]
        if self._outside_any is not None and self._outside_any.search(sk):
            factor = factor.copy() if factor is self._no_concept_factor else factor
            for ei, rx in self._outside:
                if rx.search(sk):
                    factor[ei] *= OUTSIDE_FACTOR
        return factor

    # --- out of scope ---------------------------------------------------------------------------------------------

    def _off_topic(self, query: str, toks: list[str] | None = None) -> bool:
        """Half or more of the query's topical words are unknown to the knowledge base (a typo-level likeness does
        not count) and none of them is about complaints: "результаты матча", "футбол нәтижелері"."""
        toks = self._query_tokens(query) if toks is None else toks
        if any(t in _ANCHORS for t in toks):
            return False
        content = [t for t in toks if not t.startswith("#") and t not in _GENERIC]
        if not content:
            return False
        unknown = sum(
            1
            for t in content
            if not self._evidence(t).strong
            and _concept(t, t not in self._known) not in self._vocab
        )
        return 2 * unknown >= len(content)

    def oos_odds(self, toks: list[str]) -> float:
        """The learned log-odds that a query with these tokens is out of scope (`_oos_model`): > 0 more likely out."""
        odds = self._m.oos_odds
        marks = _new_marks(toks, odds.__contains__)
        return self._m.oos_prior + sum(odds.get(t, 0.0) for t in {*toks, *marks})

    def _has_unknown(self, toks: list[str]) -> bool:
        """Whether a topical word of the query (no concept, number or generic word) matches no word of the knowledge
        base closely."""
        return any(
            not t.startswith("#") and not t.isdigit() and t not in _GENERIC
            and not self._evidence(t).strong
            for t in toks
        )

    def _about_else(
        self, query: str, sk: str | None = None, toks: set[str] | None = None, phrases: set[str] | None = None
    ) -> bool:
        """The query is about something else than complaints about public services: it names an everyday topic
        (`about_else`) and nothing of the domain (no public service, authority or term of the procedure; "complaint"
        alone does not count: "жалоба на соседей" is out of scope); or it asks how to obtain a service (its price,
        papers, hours) and says nothing about a problem: "как получить паспорт". `toks`: its tokens, `phrases`: the
        `_PHRASE_LISTS` found in it, when known."""
        sk = skeleton(query) if sk is None else sk
        if toks is None:  # no typo-tolerant concepts here: "котиков" is no typo of "көлік"
            toks = set(tokens(query, sk=sk))
        phrases = _PHRASE_LISTS.found(sk) if phrases is None else phrases
        words = sk.split()
        if all(w in _ACK_WORDS for w in words) or "family" in phrases:
            return True
        if _arithmetic(query, sk):
            return True  # "1414 умножить на 2" is sums, whatever number it names
        service = bool(toks & _SERVICE_ANCHORS) or any(w.startswith(_SERVICE_STEMS) for w in words)
        problem = bool(toks & _PROBLEM_CONCEPTS) or any(w.startswith(_PROBLEM_STEMS) for w in words)
        topic = "hard" if sk in _CHITCHAT else _topic(words, phrases)  # `about_else`: not sums, seen above
        procedure = "#complaint" in toks and bool(toks & _PROCEDURE) or len(toks & _PROCEDURE_OWN) >= 3
        if topic == "hard" and not (service and problem or procedure) and "1414" not in words and "#askbot" not in toks:
            return True  # "зарплата сотрудника цона", "погода"; but "в цоне нахамила девушка"
        if topic == "elsewhere" and not (service or "#bot" in toks or self._to_the_head(words, toks)):
            return True  # "жалоба на банк"; but "бот передает мои данные в банк?"
        if topic == "soft" and not ("#complaint" in toks or (service and problem)):
            return True  # "egov қосымшасын жүктеу"; but "скачать образец жалобы"
        if topic == "calendar" and not any(t.startswith("#") for t in toks - _CALENDAR_GENERIC - _QUESTION_CONCEPTS):
            return True  # "сколько рабочих дней в марте"; but "справку обещали к 10 марта"
        if "price" in phrases and not toks & {"#complaint", "#court"} and "1414" not in words:
            return True  # "сколько стоит бензин"; but "сколько стоит подать жалобу"
        named = toks & _HOWTO_OBJECTS or any(w.startswith(_AUTHORITY_STEMS) for w in words)
        return bool("howto" in phrases and named and not problem and "#bot" not in toks)

    @staticmethod
    def _to_the_head(words: list[str], toks: set[str]) -> bool:
        """A complaint whose only "elsewhere" word is a boss ("начальник", "бастық") and that names a step of the
        procedure is about the head of the service's provider, who reviews it: "начальник отказал по жалобе",
        "бастыққа шағым жаздым, жауап жоқ"; not "начальник на работе орёт, куда жаловаться"."""
        return (
            "#complaint" in toks and bool(toks & _HEAD_STEPS)
            and not _names_any([w for w in words if "#head" not in tokens(w)], _ELSE_ELSEWHERE)
        )

    # --- search ---------------------------------------------------------------------------------------------------

    def _ranked(self, raw: np.ndarray, cand: np.ndarray) -> list[int]:
        """The entries with evidence, best first; none when the "none of these" entry (`_none_entry`) is closer to the
        query than any of them."""
        # in Python over the 45 entries: numpy's argsort costs more than the sort (measured: ~10 us less a query
        # in the bot, where its code is out of the caches); a stable sort, ties: the first entry first
        scores = raw.tolist()
        ranked = sorted(compress(range(len(scores)), cand.tolist()), key=scores.__getitem__, reverse=True)
        if self._none in ranked:
            ranked.remove(self._none)
            if ranked and OOS_ENTRY_SHARE * raw[self._none] > raw[ranked[0]]:
                return []  # closer to the labelled out-of-scope queries than to any entry
        return ranked

    def search(self, query: str, lang: str | None = None, limit: int = 3) -> list[Hit]:
        """Best matching entries, best first; [] when the best confidence is below 0.5 (out of scope)."""
        if limit <= 0 or not query or not query.strip():
            return []
        sk = skeleton(query)  # folded once, its tokens found once: every step below reads them
        phrases = _PHRASE_LISTS.found(sk)
        words, plain, typo = _token_parts(query, sk, True, self._known, phrases)
        if small_talk(query, sk) or self._about_else(query, sk, {*words, *plain}, phrases):
            return []
        qtoks = self._query_tokens(query, sk, words + typo)
        raw, base, cand = self._scores(query, lang, sk, qtoks, words)
        ranked = self._ranked(raw, cand)
        if not ranked:
            return []
        best = float(raw[ranked[0]])
        if best < THRESHOLD_RAW or (best < OFF_TOPIC_RAW and self._off_topic(query, qtoks)):
            return []
        # the learned log-odds of "none of these" (`_oos_model`), read only for a weak match: a query that names
        # nothing of the domain but reads like the labelled in-scope questions is answered; one that reads like the
        # out-of-scope ones needs a close match
        odds = self.oos_odds(qtoks) if best < NO_DOMAIN_UNKNOWN_RAW else 0.0
        if best < NO_DOMAIN_UNKNOWN_RAW and not _in_domain(qtoks) and odds > OOS_RESCUE:
            if best < NO_DOMAIN_RAW or self._has_unknown(qtoks):
                return []  # nothing of the domain named ("на каком языке говорят в Бельгии"), and no close match
        if best < OOS_REJECT_RAW and odds > OOS_REJECT:
            return []  # reads like the labelled out-of-scope queries, and no close match
        second = float(raw[ranked[1]]) if len(ranked) > 1 else 0.0
        if second >= ONE_WORD_SHARE * best and " " not in sk.strip() and _confidence(best) < ONE_WORD_CONF:
            return []  # "срок", "құжат": a word several entries share is a topic, not a question ("ИИН" is a term)
        if _confidence(best) < MARGIN_CONF and _confidence(best) - _confidence(second) < MARGIN_MIN:
            return []  # barely above the threshold and no clearer than the next entry: a guess, not an answer
        hits: list[Hit] = []
        for ei in ranked[:limit]:
            if hits and base[ei] < SUGGEST_SHARE * best:  # a suggestion must be close on its own, whatever its rank
                break
            hits.append(Hit(self._entries[ei].id, round(_confidence(float(raw[ei])), 4)))
        return hits

    # --- access ---------------------------------------------------------------------------------------------------

    def entry(self, id: str) -> Entry:
        return self._entries[self._by_id[id]]

    def entries(self) -> list[Entry]:
        return list(self._public)

    def ids(self) -> list[str]:
        return [e.id for e in self._public]

    def categories(self) -> list[Category]:
        return list(self._categories)

    def entries_in(self, category_id: str) -> list[Entry]:
        return [e for e in self._public if e.category == category_id]


_DEFAULT: FaqIndex | None = None


def default_index() -> FaqIndex:
    """The index of the packaged bot/domain/data/faq.json, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = FaqIndex.load()
    return _DEFAULT


if __name__ == "__main__":  # python -m bot.domain.faq: write the precomputed model after a change of faq.json or here
    INDEX_PATH.write_text(precomputed_json(), encoding="utf-8")
    print(f"wrote {INDEX_PATH}")
