"""FAQ knowledge base and search (bot/faq.py, bot/faq_cli.py, bench/faq_eval.jsonl)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.domain.faq import FaqIndex, Hit, about_else, default_index, skeleton, small_talk, tokens

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "bench" / "faq_eval.jsonl"
DEV2 = ROOT / "bench" / "faq_heldout.jsonl"  # the previous round's held-out set, now split dev2

NEW_IDS = {"what_is_iin", "what_is_con", "what_is_provider"}  # covered by the held-out set, not by the old test split
REQUIRED_IDS = """
what_is_iin what_is_con what_is_provider what_is_1414 who_can_complain grounds where_to_complain quality_authority review_term_provider review_term_authority
extension extension_notice forwarding court filing_limit fields_individual fields_legal_entity official_details
anonymous refusal_to_accept weekend_filing proof_of_filing track_online track_paper online_channels
open_dialog_closed sign_electronically rude_con_employee no_answer disagree_with_result language_of_complaint
suggestions recipient_rights provider_duties working_days extra_documents personal_data attachments iin_missing
bot_help deadline_violated unjustified_refusal disabled_access
""".split()

OUT_OF_SCOPE = [
    ("погода в Астане", "ru"),
    ("football results", None),
    ("курс доллара", "ru"),
    ("как приготовить бешбармак", "ru"),
    ("бешбармақ қалай пісіремін", "kk"),
    ("Астанада ауа райы қандай", "kk"),
    ("", None),
    ("   ", "ru"),
    ("?!", None),
]


@pytest.fixture(scope="module")
def index() -> FaqIndex:
    return default_index()


def _eval_rows() -> list[dict]:
    return [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- knowledge base ---------------------------------------------------------------------------------------------


def test_required_topics_present_and_complete(index: FaqIndex) -> None:
    ids = set(index.ids())
    assert not set(REQUIRED_IDS) - ids
    cats = {c.id for c in index.categories()}
    for e in index.entries():
        assert e.category in cats, e.id
        assert e.source, e.id
        for lang in ("kk", "ru"):
            assert e.title[lang].strip() and len(e.title[lang]) <= 40, (e.id, lang)
            assert e.answer[lang].strip(), (e.id, lang)
            assert len([q for q in e.questions[lang] if q.strip()]) >= 5, (e.id, lang)


def test_categories_cover_all_entries(index: FaqIndex) -> None:
    seen = []
    for c in index.categories():
        assert c.title["kk"] and c.title["ru"]
        seen += [e.id for e in index.entries_in(c.id)]
    assert sorted(seen) == sorted(index.ids())


def test_key_facts_in_answers(index: FaqIndex) -> None:
    def both(id_: str) -> str:
        e = index.entry(id_)
        return e.answer["kk"] + "\n" + e.answer["ru"]

    assert "8-800-080-7777" in both("what_is_1414") and "1414" in both("what_is_1414")
    assert "5" in index.entry("review_term_provider").answer["ru"]
    assert "15" in index.entry("review_term_authority").answer["ru"]
    assert "10" in index.entry("extension").answer["ru"]
    assert "3" in index.entry("extension_notice").answer["ru"]
    assert "3" in index.entry("forwarding").answer["ru"]
    assert "92" in both("filing_limit") and "3" in index.entry("filing_limit").answer["ru"]
    assert "64" in both("refusal_to_accept")
    assert "2023" in both("open_dialog_closed") and "eOtinish" in both("open_dialog_closed")
    assert "досудеб" in index.entry("court").answer["ru"]
    # the court: one month (APPK art. 136), in the topics where the court is the next step
    for id_ in ("court", "disagree_with_result", "no_answer"):
        e = index.entry(id_)
        assert "136" in e.answer["ru"] and "одного месяца" in e.answer["ru"], id_
        assert "136" in e.answer["kk"] and "бір ай" in e.answer["kk"], id_
    assert "Агентство" in index.entry("disagree_with_result").answer["ru"].split("Если жалобу рассматривало")[1]
    # inaction, and what the bot really asks when there is no IIN
    assert "бездействие" in index.entry("no_answer").answer["ru"]
    for word in ("вид", "номер", "дату выдачи", "кем он выдан", "У меня нет ИИН"):
        assert word in index.entry("iin_missing").answer["ru"], word
    assert "ұзартылмаған деп" not in index.entry("extension_notice").answer["kk"]  # no rule the law lacks


def test_eval_set_shape() -> None:
    rows = _eval_rows()
    assert len(rows) >= 200
    faq_ids = set(default_index().ids())
    examples = {
        q.strip().lower() for e in default_index().entries() for lang in ("kk", "ru") for q in e.questions[lang]
    }
    for r in rows:
        assert r["lang"] in ("kk", "ru") and r["split"] in ("dev", "test")
        assert r["id"] is None or r["id"] in faq_ids
        assert r["q"].strip().lower() not in examples, r["q"]
    for lang in ("kk", "ru"):
        mine = [r for r in rows if r["lang"] == lang]
        assert {r["id"] for r in mine if r["split"] == "test" and r["id"]} >= set(REQUIRED_IDS) - NEW_IDS
    assert sum(r["id"] is None for r in rows) >= 20


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_dev7_set_shape() -> None:
    """dev7: near misses written from the answers' own vocabulary (how to get a digital signature, a career in the
    civil service, the CON's address, complaints about banks or the police, the calendar) and greetings that come
    with a request ("Здравствуйте, у меня вопрос"); none of them an example question."""
    rows = _rows(ROOT / "bench" / "faq_dev7.jsonl")
    examples = {
        q.strip().lower() for e in default_index().entries() for lang in ("kk", "ru") for q in e.questions[lang]
    }
    for r in rows:
        assert r["lang"] in ("kk", "ru") and r["split"] == "dev7"
        assert r["id"] is None or r["id"] in set(default_index().ids())
        assert r["q"].strip().lower() not in examples, r["q"]
    for lang in ("kk", "ru"):
        assert sum(r["id"] is None and r.get("kind") != "greeting" for r in rows if r["lang"] == lang) >= 45
        assert sum(r.get("kind") == "greeting" for r in rows if r["lang"] == lang) >= 10


def test_dev8_set_shape() -> None:
    """dev8: in-scope questions with the words of dev7's near misses (a bank, a phone, an address, a month), every
    topic in both languages, none an example question or a query of another set."""
    rows = _rows(ROOT / "bench" / "faq_dev8.jsonl")
    examples = {
        q.strip().lower() for e in default_index().entries() for lang in ("kk", "ru") for q in e.questions[lang]
    }
    earlier = _eval_rows() + _dev2_rows() + [r for n in range(3, 8) for r in _rows(ROOT / "bench" / f"faq_dev{n}.jsonl")]
    others = {r["q"].strip().lower() for r in earlier}
    for r in rows:
        assert r["lang"] in ("kk", "ru") and r["split"] == "dev8" and r["id"] in set(default_index().ids())
        assert r["q"].strip().lower() not in examples | others, r["q"]
    for lang in ("kk", "ru"):
        assert {r["id"] for r in rows if r["lang"] == lang} == set(default_index().ids())


def _dev2_rows() -> list[dict]:
    return _rows(DEV2)


def test_dev2_set_shape() -> None:
    """The previous round's held-out set, now a development set (split dev2): it covers every topic in both
    languages, incl. misspelled colloquial Russian, short definitional questions, sports results and greetings;
    none of its queries is an example question of the knowledge base."""
    rows = _dev2_rows()
    faq_ids = set(default_index().ids())
    examples = {
        q.strip().lower() for e in default_index().entries() for lang in ("kk", "ru") for q in e.questions[lang]
    }
    queries = {r["q"] for r in rows}
    for r in rows:
        assert r["lang"] in ("kk", "ru") and r["split"] == "dev2"
        assert r["id"] is None or r["id"] in faq_ids
        assert r["q"].strip().lower() not in examples, r["q"]
    for lang in ("kk", "ru"):
        assert {r["id"] for r in rows if r["lang"] == lang and r["id"]} >= set(REQUIRED_IDS)
        assert sum(r["id"] is None for r in rows if r["lang"] == lang) >= 30
    assert {"скока дней расматривают жалобу", "что такое иин", "ЖСН деген не", "привет", "сәлем"} <= queries
    assert {r["q"] for r in rows if r.get("kind") == "greeting"} >= {"привет", "сәлем"}


@pytest.mark.parametrize("split", ["dev3", "dev4", "dev5", "dev6"])
def test_own_dev_set_shape(split: str) -> None:
    """This round's own development sets: (nearly) every topic in both languages, out-of-scope queries that share
    words with the knowledge base, no query an example question or a query of an earlier set (greetings aside)."""
    rows = _rows(ROOT / "bench" / f"faq_{split}.jsonl")
    faq_ids = set(default_index().ids())
    examples = {
        q.strip().lower() for e in default_index().entries() for lang in ("kk", "ru") for q in e.questions[lang]
    }
    earlier = _eval_rows() + _dev2_rows() + [r for n in range(3, int(split[3:])) for r in _rows(ROOT / "bench" / f"faq_dev{n}.jsonl")]
    others = {r["q"].strip().lower() for r in earlier if r.get("kind") != "greeting"}
    for r in rows:
        assert r["lang"] in ("kk", "ru") and r["split"] == split
        assert r["id"] is None or r["id"] in faq_ids
        if r.get("kind") != "greeting":
            assert r["q"].strip().lower() not in examples | others, r["q"]
    for lang in ("kk", "ru"):
        assert len({r["id"] for r in rows if r["lang"] == lang and r["id"]}) >= 35
        assert sum(r["id"] is None for r in rows if r["lang"] == lang) >= 14


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_dev_figures(index: FaqIndex, lang: str) -> None:
    """The development sets together (dev, test, dev2..dev11), as floors at the level measured in round 4: top-1
    1160/1172 kk, 1238/1254 ru; out of scope rejected 380/381 kk, 386/387 ru (round 3's floors over dev..dev10 were
    1008/1015 kk, 1079/1094 ru; 316/316 kk, 322/322 ru; dev11 joined in round 4 at 148/157 kk, 152/160 ru, 58/65
    and 62/65 out of scope)."""
    from bench.faq_bench import DEV_SPLITS, evaluate, load_eval

    floors = {"kk": (1160, 380), "ru": (1238, 386)}
    rows = [r for r in load_eval() if r["split"] in DEV_SPLITS]
    g = evaluate(rows, index)["accuracy"][f"devall/{lang}"]
    top1, rejected = floors[lang]
    assert g["top1_count"] >= top1 and g["oos_rejected"] >= rejected, g


# --- search -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_heldout_top1_accuracy(index: FaqIndex, lang: str) -> None:
    rows = [r for r in _eval_rows() if r["split"] == "test" and r["lang"] == lang and r["id"]]
    correct = sum([h.id for h in index.search(r["q"], lang=r["lang"])][:1] == [r["id"]] for r in rows)
    assert correct / len(rows) >= 0.90, f"{lang}: {correct}/{len(rows)}"


@pytest.mark.parametrize("query,lang", OUT_OF_SCOPE)
def test_out_of_scope_is_rejected(index: FaqIndex, query: str, lang: str | None) -> None:
    assert index.search(query, lang=lang) == []


# Queries about something else that share words with the knowledge base (written for this test, in no labelled set)
NEAR_MISSES = [
    ("какой прогноз погоды на выходные", "ru"),
    ("где посмотреть матч кайрата", "ru"),
    ("хочу купить ноутбук в рассрочку", "ru"),
    ("соседи шумят ночью, куда пожаловаться", "ru"),  # a complaint, but not about a public service
    ("банк отказал в кредите", "ru"),
    ("как получить паспорт", "ru"),  # obtaining a service, not a complaint about it
    ("режим работы цона", "ru"),
    ("ертең жаңбыр жауа ма", "kk"),
    ("жақсы фильм ұсыншы", "kk"),
    ("көршілер түнде шулайды, шағым жазам", "kk"),
    ("төлқұжатты қалай аламын", "kk"),
    ("ХҚКО қашан ашылады", "kk"),
    ("жәрдемақы қашан түседі", "kk"),
    ("сколько будет 2+2", "ru"),
    ("продам диван", "ru"),
    ("сколько времени", "ru"),  # the clock; "сколько времени есть на жалобу" is a question
    ("бүгін қай күн", "kk"),
    ("сөйлескім келеді", "kk"),
    ("как получить ключ ЭЦП", "ru"),  # how to obtain what the answers mention
    ("ХҚКО-ның мекенжайы қандай", "kk"),
    ("как сдать тестирование на госслужбу", "ru"),
    ("жалоба на банк за списание денег", "ru"),
    ("полицейге қалай шағымданамын", "kk"),
    ("сколько выходных в ноябре", "ru"),
    ("ажырасу үшін не керек", "kk"),
    ("соттылығы жоқ анықтаманы қалай аламын", "kk"),  # obtaining the certificate, not a complaint about it
    ("жұмыс беруші айлықты бермей жатыр", "kk"),  # an employer ("жұмыс беруші") is no service provider ("беруші")
    ("жалоба на работодателя за задержку зарплаты", "ru"),
    ("продлить вид на жительство", "ru"),
    ("ХҚКО жексенбіде жұмыс істей ме", "kk"),
    ("жұмыстан демалыс қалай аламын", "kk"),
]


@pytest.mark.parametrize(
    "query",
    ["Здравствуйте, у меня вопрос", "Добрый день! Подскажите, пожалуйста", "Сәлеметсіз бе, көмек керек", "Армысыз!",
     "Доброго времени суток"],
)
def test_greetings_with_a_request_are_greetings(query: str) -> None:
    assert small_talk(query) == "greeting"


@pytest.mark.parametrize("query", ["здравствуйте, куда подать жалобу", "привет, нет ответа на жалобу", "помогите"])
def test_a_question_after_a_greeting_is_a_question(query: str) -> None:
    assert small_talk(query) is None


@pytest.mark.parametrize("query,lang", NEAR_MISSES)
def test_near_misses_are_rejected(index: FaqIndex, query: str, lang: str) -> None:
    assert index.search(query, lang=lang) == []


def test_about_else_spares_the_domain(index: FaqIndex) -> None:
    """No example question, title or answer of the knowledge base, and no in-scope query of the labelled sets, reads
    as an everyday topic; a service named next to a problem stays in scope."""
    kb = [t for e in index.entries() for lang in ("kk", "ru") for t in (e.title[lang], e.answer[lang], *e.questions[lang])]
    own = [r for n in (3, 4, 5, 6, 7, 8) for r in _rows(ROOT / "bench" / f"faq_dev{n}.jsonl")]
    queries = [r["q"] for r in _eval_rows() + _dev2_rows() + own if r["id"]]
    assert [t for t in kb + queries if index._about_else(t)] == []
    # the everyday words themselves never occur in the knowledge base, but for a price next to the 1414 line
    assert [t for t in kb if about_else(t) == "hard"] == ["1414 ке звондасам акша кете ме"]
    assert index.search("паспорт не выдали в срок", lang="ru")
    assert index.search("сколько времени есть на жалобу", lang="ru")
    assert index.search("что такое 1414 и номер 8-800-080-7777", lang="ru")
    assert index.search("төлқұжатты уақытында бермеді", lang="kk")


@pytest.mark.parametrize(
    "query,lang,expected",
    [
        ("shagym qalay beremin", "kk", {"where_to_complain", "online_channels"}),  # informal Latin
        ("şağymdy qaida beremın", "kk", {"where_to_complain"}),  # 2021 Latin alphabet
        ("шагым кай жерге беремин", "kk", {"where_to_complain"}),  # Russian letters for Kazakh ones
        ("жалоба на грубого сотрудика цона", "ru", {"rude_con_employee"}),  # typo
        ("жалоба 5 жұмыс күні", "ru", {"review_term_provider"}),  # mixed languages
        ("жалоба 5 жұмыс күні", None, {"review_term_provider"}),
        ("zhauap kelmedi", "kk", {"no_answer"}),
        ("СКОЛЬКО ДНЕЙ РАССМАТРИВАЮТ ЖАЛОБУ", "ru", {"review_term_provider"}),
        ("скока дней расматривают жалобу", "ru", {"review_term_provider"}),  # colloquial, misspelled
        ("скоко ждать ответа на жалобу", "ru", {"review_term_provider"}),
        ("что такое иин", "ru", {"what_is_iin"}),  # short definitional questions
        ("ЖСН деген не", "kk", {"what_is_iin"}),
        ("ХҚКО деген не", "kk", {"what_is_con"}),
        # a certificate of no criminal record is a service: its "жоқ" ("no") is no "not" of a problem
        ("соттылығы жоқ анықтаманы бермей жатыр", "kk", {"deadline_violated"}),
        ("ХҚКО соттылығы жоқ анықтаманы талап етті", "kk", {"extra_documents"}),
        ("у меня вид на жительство без иин", "ru", {"iin_missing"}),
    ],
)
def test_robustness(index: FaqIndex, query: str, lang: str | None, expected: set[str]) -> None:
    hits = index.search(query, lang=lang)
    assert hits and hits[0].id in expected, hits


def test_words_that_tell_topics_apart() -> None:
    """Kazakh "не" is "what", not a negation; a disagreement is not a negated question; "ТОО" survives the folding
    of doubled letters and names a legal entity; a lawsuit is about the court."""
    assert "#not" not in tokens("ЖСН деген не") and "#define" in tokens("ЖСН деген не")
    assert "#not" not in tokens("шағымға жауап не істеймін")
    assert "#not" in tokens("на жалобу не ответили") and "#not" in tokens("zhauap kelmedi")
    assert "#disagree" in tokens("не согласен с ответом") and "#not" not in tokens("не согласен с ответом")
    assert "#disagree" in tokens("жауап ұнамады") and "#not" not in tokens("жауап ұнамады")
    assert skeleton("ТОО") == "тоо" and "#legal" in tokens("жалоба от ТОО") and "#legal" not in tokens("то есть")
    assert "#court" in tokens("срок подачи иска") and "#court" in tokens("талап арыз беру")
    assert "#court" not in tokens("как заработать деньги", fuzzy=True)  # "деньги" is one letter from "дейінгі"


def test_typo_tolerant_concepts_only_for_typos(index: FaqIndex) -> None:
    """A word one letter from a concept's stem names the concept when it is a typo ("жалба", "аноимная"), not when
    it is a word of its own: one the knowledge base knows ("оказали" is not "отказ"), one that differs in its first
    letters ("қолданамын" is not "жолдау"), or a stem marked as too close to everyday words ("берші" is not
    "беруші")."""
    assert "#complaint" in index._query_tokens("жалба на цон") and "#anon" in index._query_tokens("аноимная жалоба")
    assert "#refuse" not in index._query_tokens("услугу оказали не полностью")
    assert "#forward" not in index._query_tokens("қай тілді қолданамын")
    assert "#provider" not in index._query_tokens("ән айтып берші")
    assert index.search("ән айтып берші", lang="kk") == [] and index.search("покажи котиков", lang="ru") == []


@pytest.mark.parametrize(
    "query,kind",
    [("привет", "greeting"), ("сәлем", "greeting"), ("Добрый вечер", "greeting"), ("спасибо", "thanks"),
     ("рақмет", "thanks"), ("Большое спасибо за помощь!", "thanks"), ("көп рахмет", "thanks"), ("пока", "goodbye"),
     ("сау бол", "goodbye"), ("До свидания", "goodbye"), ("спасибо, пока", "goodbye"), ("рахмет, сау болыңыз", "goodbye"),
     ("ок, понятно", "ack"), ("спасибо, а куда подать жалобу", None), ("пока жалобу не рассмотрели", None)],
)
def test_small_talk_kinds(query: str, kind: str | None) -> None:
    """Greetings, thanks and goodbyes, alone or together (thanks with a goodbye is a goodbye); a question is none."""
    assert small_talk(query) == kind


@pytest.mark.parametrize("query,lang,expected", [
    ("ИИН", "ru", "what_is_iin"), ("ЖСН", "kk", "what_is_iin"), ("продление", "ru", "extension"),
    ("ұзарту", "kk", "extension"), ("документ", "ru", None), ("мерзім", "kk", None),
])
def test_a_term_alone_is_answered_a_topic_alone_is_not(index: FaqIndex, query: str, lang: str,
                                                       expected: str | None) -> None:
    """One word that two entries share: a term the best entry is sure of («ИИН»: what it is; «продление») is
    answered (the next entry is offered beside it); a topic word many entries touch («документ») asks nothing."""
    assert ([h.id for h in index.search(query, lang=lang)][:1] or [None])[0] == expected


@pytest.mark.parametrize("query,kind", [
    ("ассаламалейкум апа", "greeting"), ("сәлеметсіз бе, ағай", "greeting"), ("халыңыз қалай", "greeting"),
    ("сәлем, хал жағдай қалай", "greeting"), ("рахмет көмегіңізге", "thanks"), ("көмегің үшін рақмет, жарайсың", "thanks"),
    ("апа, көмек керек, шағымды қалай жазамын", None), ("халыққа қызмет көрсету орталығы", None),
])
def test_kazakh_address_words_and_asking_after_the_bot(query: str, kind: str | None) -> None:
    """An elder addressed (аға, апа), "how are you" as «хал(ың) қалай», thanks "for your help" (көмегіңізге): small
    talk; a request after such words is not."""
    assert small_talk(query) == kind


@pytest.mark.parametrize("query,lang", [("ок, понятно", "ru"), ("пока", "ru"), ("жарайды, түсінікті", "kk"), ("сау бол", "kk")])
def test_acknowledgements_ask_nothing(index: FaqIndex, query: str, lang: str) -> None:
    assert index.search(query, lang=lang) == []


def test_reranking_is_deterministic() -> None:
    a, b = FaqIndex.load(), FaqIndex.load()
    for q in ("куда подать жалобу на цон", "шағым неше күнде қаралады", "не согласен с ответом"):
        assert a.search(q, lang="ru") == b.search(q, lang="ru")


def test_precomputed_model_is_current() -> None:
    """bot/domain/data/faq_index.json is what the build gives for the packaged faq.json and this very module (after a
    change to either: `python -m bot.domain.faq`), so loading reads it instead of building the model."""
    from bot.domain.faq import DEFAULT_PATH, INDEX_PATH, fingerprint, precomputed_json

    assert INDEX_PATH.read_text(encoding="utf-8") == precomputed_json(), "run: python -m bot.domain.faq"
    head = json.loads(INDEX_PATH.read_text(encoding="utf-8"))["fingerprint"]
    assert head == fingerprint(DEFAULT_PATH.read_bytes())


def test_loading_reads_the_precomputed_model_and_searches_as_the_build() -> None:
    """Loading is cheap (it was about a second of CPU, training the perceptron at start), and the loaded index
    answers exactly as one built from the same data."""
    data = json.loads((ROOT / "bot" / "domain" / "data" / "faq.json").read_text(encoding="utf-8"))
    # timed before the build: a collection walking the index just built (tests run with the default gc settings)
    # once put 0.5 s of CPU into a 0.2 s load (clean-clone CI, stop 23)
    cpu = time.thread_time()
    loaded = FaqIndex.load()
    assert time.thread_time() - cpu < 0.5
    built = FaqIndex.from_dict(data)
    queries = [r["q"] for r in _eval_rows()] + ["жалоба 5 жұмыс күні", "zhauap kelmedi", "сотрудика цона нахамил"]
    for q in queries:
        assert loaded.search(q, lang="ru", limit=5) == built.search(q, lang="ru", limit=5), q


def test_skeleton_folds_scripts() -> None:
    assert skeleton("шағым") == skeleton("шагым") == skeleton("şağym") == skeleton("shagym")
    assert skeleton("Қалай") == skeleton("qalay") == skeleton("калай")
    assert skeleton("жауап") == skeleton("zhauap") == skeleton("jauap")
    assert skeleton("күнде") == skeleton("kunde") == skeleton("кунде") == skeleton("künde")
    assert skeleton("ЖЁЛТЫЙ") == skeleton("желтый")
    assert "#complaint" in tokens("шағым") and "#complaint" in tokens("жалоба")


def test_hits_shape_and_limits(index: FaqIndex) -> None:
    hits = index.search("куда подать жалобу на госуслугу", lang="ru", limit=5)
    assert 1 <= len(hits) <= 5
    assert all(isinstance(h, Hit) and 0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({h.id for h in hits}) == len(hits)
    assert index.search("куда подать жалобу", limit=1)[0].id == hits[0].id
    assert index.search("куда подать жалобу", limit=0) == []


def test_example_questions_find_their_entry(index: FaqIndex) -> None:
    for e in index.entries():
        for lang in ("kk", "ru"):
            for q in e.questions[lang]:
                assert e.id in [h.id for h in index.search(q, lang=lang)], (e.id, q)


def test_load_from_path_and_default_cached(tmp_path: Path) -> None:
    assert default_index() is default_index()
    data = json.loads((ROOT / "bot" / "domain" / "data" / "faq.json").read_text(encoding="utf-8"))
    data["entries"] = data["entries"][:3]
    p = tmp_path / "faq.json"
    p.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    small = FaqIndex.load(p)
    assert len(small.ids()) == 3


# --- CLI --------------------------------------------------------------------------------------------------------

_NO_AIOGRAM = (
    "import sys, runpy; sys.argv = ['bot'] + sys.argv[1:];"
    "\ntry:\n    runpy.run_module('bot', run_name='__main__')\nexcept SystemExit as e:\n    code = e.code\n"
    "else:\n    code = 0\n"
    "assert not any(m == 'aiogram' or m.startswith('aiogram.') for m in sys.modules), 'aiogram imported'\n"
    "sys.exit(code)"
)


def _cli(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", _NO_AIOGRAM, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=30,
    )


def test_cli_json() -> None:
    p = _cli(["faq", "--lang", "ru", "--json", "сколько дней рассматривают жалобу"])
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["query"] == "сколько дней рассматривают жалобу"
    assert out["results"][0]["id"] == "review_term_provider"
    assert all(set(r) == {"id", "score"} for r in out["results"])


def test_cli_json_out_of_scope() -> None:
    p = _cli(["faq", "--json", "курс доллара"])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"query": "курс доллара", "results": []}


def test_cli_batch() -> None:
    p = _cli(["faq", "--batch", "--lang", "kk"], stdin="шағымды қайда беремін\n\nпогода в Астане\n")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert [x["query"] for x in lines] == ["шағымды қайда беремін", "погода в Астане"]
    assert lines[0]["results"][0]["id"] == "where_to_complain"
    assert lines[1]["results"] == []


def test_cli_text() -> None:
    p = _cli(["faq", "--lang", "kk", "агенттік", "шағымды", "неше", "күнде", "қарайды"])
    assert p.returncode == 0, p.stderr
    assert "review_term_authority" in p.stdout


def _legal_sections() -> dict[str, str]:
    """docs/legal.md's sections by their anchor ("## The person's own limit" -> "the-persons-own-limit")."""
    text = (ROOT / "docs" / "legal.md").read_text(encoding="utf-8")
    sections = {}
    for block in text.split("\n## ")[1:]:
        heading, _, body = block.partition("\n")
        sections[re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")] = body
    return sections


def test_answers_that_cite_the_law_point_to_its_section(index: FaqIndex) -> None:
    """Every answer that cites an article of the APPK names, in its source, the docs/legal.md section(s) that state
    the rule, and every article it cites (ru «АППК, ст. 63, 93», kk «ӘРПК 63, 93-баптары») is one those sections
    cite; every docs/legal.md reference of a source is a section of that page."""
    sections = _legal_sections()
    cited = 0
    for e in index.entries():
        refs = re.findall(r"docs/legal\.md#([a-z0-9-]+)", e.source)
        assert set(refs) <= set(sections), (e.id, refs)
        text = " ".join(sections[r] for r in refs)
        articles = {n for m in re.findall(r"АППК, ст\. ([\d, ]+)", e.answer["ru"]) for n in re.findall(r"\d+", m)}
        kk = {n for m in re.findall(r"ӘРПК ([\d, ]+)-ба", e.answer["kk"]) for n in re.findall(r"\d+", m)}
        assert articles == kk, (e.id, articles, kk)  # both languages cite the same law
        cited += bool(articles)
        for n in articles:
            assert re.search(rf"\bart\. (?:\d+, )*{n}\b|\barts?\. [\d, ]*\b{n}\b", text), (e.id, n, refs)
    assert cited >= 9


@pytest.mark.parametrize(
    "query,lang,expected",
    [
        ("ты кто вообще, чем можешь помочь", "ru", ["bot_help"]),  # a question to the bot, not chit-chat
        ("сенің қолыңнан не келеді", "kk", ["bot_help"]),
        ("кто ты", "ru", []),  # chit-chat
        ("бот можешь спеть песню", "ru", []),
        ("екі қосу екі", "kk", []),  # arithmetic in words
        ("пять плюс три", "ru", []),
        ("шағымға 2 құжат қосу", "kk", ["attachments"]),  # "қосу" is also "to attach"
        ("соттылығы жоқ анықтаманы онлайн алу", "kk", []),  # obtaining a service online
    ],
)
def test_questions_to_the_bot_and_arithmetic(index: FaqIndex, query: str, lang: str, expected: list[str]) -> None:
    assert [h.id for h in index.search(query, lang=lang)][:1] == expected


# --- round 4: endings, domain synonyms, out-of-scope guards that generalise --------------------------------------


def test_endings_and_stems_are_plain_functions() -> None:
    """The light stemmer: a tail made of Russian or Kazakh endings is an ending chain, other letters are not; the
    stem is what is left before it."""
    from bot.domain.faq import is_ending, stem

    assert is_ending("") and is_ending(skeleton("дарымды")) and is_ending(skeleton("ның")) and is_ending("ами")
    assert not is_ending("ртк") and not is_ending("ишк")
    assert stem(skeleton("жалобу")) == stem(skeleton("жалобы")) == "жалоб"
    assert stem(skeleton("визаның"), 4) == "виза"
    assert stem(skeleton("шағымдарымды"), 5) == skeleton("шағым")


def test_word_similarity_wants_endings_after_a_short_stem() -> None:
    """"қасық" (a spoon) shares four letters with "кәсіпкер" (an entrepreneur) but is no form of it; "жалобу" is a
    form of "жалоба", "шағымданамын" of "шағым"."""
    from bot.domain.faq import word_similarity

    assert word_similarity(skeleton("қасық"), skeleton("кәсіпкер")) == 0.0
    assert word_similarity(skeleton("жалобу"), skeleton("жалоба")) > 0.75
    assert word_similarity(skeleton("шағым"), skeleton("шағымданамын")) > 0.6
    assert word_similarity(skeleton("сроков"), skeleton("срок")) > 0.75


def test_domain_synonyms_name_one_concept() -> None:
    """The CON under its long names, dissatisfaction in Kazakh forms and slang, inaction, ЖК for ИП; the Russian
    pronoun "он" is no Kazakh "ten"."""
    assert "#con" in tokens("центр обслуживания населения") and "#con" in tokens("мемкорпорацияға бардым")
    assert "#con" in tokens("халыққа қызмет көрсету орталығында") and "#con" in tokens("Госкорпорация")
    assert "#disagree" in tokens("жауапқа қанағаттанбадым") and "#disagree" in tokens("пришла отписка")
    assert "#inaction" in tokens("чиновник бездействует") and "#inaction" in tokens("әрекетсіздігі")
    assert "#legal" in tokens("ЖК-ны тіркеу") and "#n10" not in tokens("он подходит") and "#n10" in tokens("он күн")


@pytest.mark.parametrize(
    "query,lang",
    [
        ("визамның мерзімі бітіп қалды", "kk"),  # a form of a listed word ("виза")
        ("цена на бензин аи 95", "ru"),  # the price of something else
        ("мұра бойынша мерзімді қалпына келтіру", "kk"),  # inheritance: a notary's matter
        ("тұрғылықты жерге тіркелу қанша уақыт алады", "kk"),  # how to obtain a service (residence registration)
        ("ЖК-ны қалай тіркеуге болады", "kk"),  # ЖК is ИП: registering a business
    ],
)
def test_round4_out_of_scope(index: FaqIndex, query: str, lang: str) -> None:
    assert index.search(query, lang=lang) == []


@pytest.mark.parametrize(
    "query,lang,expected",
    [
        ("сколько стоит подать жалобу", "ru", None),  # a price of the complaint itself stays in scope
        ("пропустил срок жалобы на 3 месяца, лежал в больнице", "ru", {"filing_limit"}),
        ("центр обслуживания населения это что", "ru", {"what_is_con"}),
        ("мемкорпорация деген не", "kk", {"what_is_con"}),
        ("на мою жалобу пришла отписка, что делать", "ru", {"disagree_with_result"}),
        ("шағымыма жауап келді бірақ қанағаттанбадым", "kk", {"disagree_with_result"}),
        ("сен заңгерсің бе", "kk", {"bot_help"}),
        ("ты юрист?", "ru", {"bot_help"}),
    ],
)
def test_round4_in_scope(index: FaqIndex, query: str, lang: str, expected: set[str] | None) -> None:
    hits = index.search(query, lang=lang)
    assert hits and (expected is None or hits[0].id in expected), hits


def test_more_domain_synonyms() -> None:
    """Anonymity, cost, a template, ignoring and filing from home have one concept in both languages."""
    assert "#anon" in tokens("тайная жалоба") and "#free" in tokens("это платно?") and "#free" in tokens("ақылы ма")
    assert "#sample" in tokens("образец жалобы") and "#sample" in tokens("шағымның үлгісі")
    assert "#ignore" in tokens("госорган проигнорировал") and "#ignore" in tokens("шағымымды елемеді")
    assert "#online" in tokens("подать жалобу не выходя из дома") and "#online" in tokens("үйден шықпай шағым беру")
    assert "#extra" in tokens("требуют дополнительные справки") and "#extra" in tokens("артық құжат сұрады")
    assert "#provider" in tokens("срок у органа, который оказал услугу") and "#provider" in tokens(
        "қызметті көрсеткен орган қанша күнде қарайды"
    )


# --- round 5: learning from the labelled sets, in-domain evidence, speed ----------------------------------------


@pytest.mark.parametrize(
    "query,lang,expected",
    [
        # short definitional questions and misspelled colloquial Russian (issue 10, point 8)
        ("что такое иин", "ru", "what_is_iin"),
        ("ЖСН деген не", "kk", "what_is_iin"),
        ("скока дней расматривают жалобу", "ru", "review_term_provider"),
        ("скока ждать атвета на жалобу", "ru", "review_term_provider"),
        # an unstressed "о" written "а" at a word's start still names the concept
        ("атказали в пасопрте а пачему не сказали", "ru", "unjustified_refusal"),
        ("как абжаловать атказ в услуге", "ru", "unjustified_refusal"),
        # being forced to bring a paper the office has is a problem, not a question how to obtain a service
        ("в цоне заставляют принести справку о составе семьи хотя она есть в базе", "ru", "extra_documents"),
        ("ХҚКО-да егов-та бар анықтаманы әкел деп мәжбүрлеп отыр", "kk", "extra_documents"),
        # an answer came but the problem is not solved: dissatisfaction with the result, not "no answer"
        ("на жалобу ответили, но вопрос так и не решен", "ru", "disagree_with_result"),
        ("шағымыма жауап берді, бірақ мәселем шешілмеді", "kk", "disagree_with_result"),
    ],
)
def test_round5_in_scope(index: FaqIndex, query: str, lang: str, expected: str) -> None:
    assert [h.id for h in index.search(query, lang=lang)][:1] == [expected]


@pytest.mark.parametrize(
    "query,lang",
    [
        # nothing of the domain named, and a word the knowledge base does not know
        ("Жапонияда қай тілде сөйлейді", "kk"),
        ("телеграмға қалай тіркелемін", "kk"),
        ("как зарегистрироваться в телеграме", "ru"),
        ("сколько дней до восьмого марта", "ru"),
        ("қай ноутбук жақсы", "kk"),
        ("стипендия қашан түседі", "kk"),
        ("кто такой чокан валиханов", "ru"),
        ("привет", "ru"),
        ("сәлем", "kk"),
    ],
)
def test_round5_out_of_scope(index: FaqIndex, query: str, lang: str) -> None:
    assert index.search(query, lang=lang) == []


@pytest.mark.parametrize(
    "query,kind",
    [
        # asking after the bot, or who it is, alone or after a greeting: a greeting, answered with the menu
        ("как дела?", "greeting"),
        ("Здравствуйте! Как вы?", "greeting"),
        ("ты кто такой", "greeting"),
        ("Сәлем, жағдайың қалай?", "greeting"),
        ("сіз кімсіз", "greeting"),
        ("ты живой?", "greeting"),
        ("сен бармысың", "greeting"),
        # an acknowledgement alone: answered with the menu too ("ack")
        ("ок", "ack"),
        ("ясно, хорошо", "ack"),
        ("түсінікті", "ack"),
        ("жарайды, рахмет", "thanks"),
        # questions stay questions
        ("как дела с моей жалобой", None),
        ("кто рассматривает жалобу", None),
        ("сен кімге шағым жібересің", None),
        ("да", None),
    ],
)
def test_round6_small_talk(index: FaqIndex, query: str, kind: str | None) -> None:
    assert small_talk(query) == kind
    if kind is not None:
        assert index.search(query) == []


@pytest.mark.parametrize(
    "query,lang",
    [
        # how to obtain a service (re-register it, sell it, a driving test, opening hours), with no problem named
        ("как переоформить квартиру на сына через егов", "ru"),
        ("машинамды қалай сатамын", "kk"),
        ("хочу сдать на права, куда обращаться", "ru"),
        ("цон работает в воскресенье?", "ru"),
        # other state matters, learning, puzzles, sums
        ("гражданство для ребенка как оформить", "ru"),
        ("университетке түсу үшін не керек", "kk"),
        ("кроссворд шешуге көмектесші", "kk"),
        ("1414 плюс 6", "ru"),
        ("125 разделить на 5", "ru"),
        # when a service will be ready, with nothing wrong yet
        ("жеке куәлік қанша күнде дайын болады", "kk"),
        ("через сколько будет готов техпаспорт", "ru"),
        # an amount to be paid, a holiday's day off
        ("жәрдемақым қанша болады", "kk"),
        ("пособие на ребенка сколько будет в этом году", "ru"),
        ("день конституции выходной?", "ru"),
        ("тәуелсіздік күні қанша күн демаламыз", "kk"),
        # "сверху" is from above, not "сверх" (extra); a debt's limitation; what a service needs; vacancies
        ("соседи сверху топят уже третий раз", "ru"),
        ("долг по расписке, какой срок давности", "ru"),
        ("туу туралы куәлік алу үшін не керек", "kk"),
        ("әкімдіктегі бос жұмыс орындары", "kk"),
        # a boss at work is no provider's head, even with "жаловаться"
        ("начальник на работе орёт, куда пожаловаться", "ru"),
        ("бастығым ұрысады, қайда шағымданамын", "kk"),
    ],
)
def test_round6_out_of_scope(index: FaqIndex, query: str, lang: str) -> None:
    assert index.search(query, lang=lang) == []


@pytest.mark.parametrize(
    "query,lang,expected",
    [
        # people who do not see or hear are people with disabilities
        ("слепому не помогли в цоне заполнить бланк", "ru", "disabled_access"),
        ("көзі көрмейтін әжеме ешкім көмектеспеді", "kk", "disabled_access"),
        # only one of several things done: the service was rendered in part
        ("заказывал две справки, выдали только одну", "ru", "incomplete_service"),
        # a paper the office could see in its own database is an extra paper, not a question how to get it
        ("мекенжай анықтамасын өзім әкелуім керек пе, базадан көрмей ме", "kk", "extra_documents"),
        # three terms of the procedure keep a query in scope whatever everyday word comes with them
        ("срок рассмотрения продлили, сказали сотрудник ушел в отпуск, так можно?", "ru", "extension"),
        ("пропустил месяц на иск в суд, лежал в больнице, восстановят срок?", "ru", "court"),
        ("справку готовят уже второй месяц", "ru", "deadline_violated"),
        # re-registering a service's object is a how-to question only when nothing went wrong
        ("переоформили справку неправильно", "ru", "incomplete_service"),
        # colloquial forms of "accept" and "forward"; "девушка" is the clerk at the window, not a date
        ("жалобу не примут, сказала девушка на приеме", "ru", "refusal_to_accept"),
        ("если жалоба не по адресу, ее передадут куда надо?", "ru", "forwarding"),
        # the boss ("начальник", "бастық") who reviews a complaint is the provider's head ("руководитель", "басшы")
        ("начальник отдела отказал по моей жалобе, что дальше", "ru", "disagree_with_result"),
        ("жаловаться начальнику цона или сразу в агентство?", "ru", "where_to_complain"),
        ("бастыққа шағым жаздым, жауап жоқ", "kk", "no_answer"),
    ],
)
def test_round6_in_scope(index: FaqIndex, query: str, lang: str, expected: str) -> None:
    assert [h.id for h in index.search(query, lang=lang)][:1] == [expected]


def test_round6_concepts() -> None:
    """Everyday words for the procedure's notions: only one of several done is #partial, a paper in the office's
    database is #extra, not seeing or hearing is #disabled, the boss is the provider's #head."""
    assert "#partial" in tokens("екі анықтама сұрадым, біреуін ғана берді") and "#partial" in tokens("остальное забыли")
    assert "#extra" in tokens("у них же есть в базе") and "#extra" in tokens("дерекқорда бар ғой")
    assert "#extra" in tokens("требуют справки сверх перечня") and "#extra" not in tokens("соседи сверху")
    assert "#disabled" in tokens("слабовидящий отец") and "#disabled" in tokens("саңырау адамға")
    assert about_else("очень долго жду ответа") is None and about_else("долгая проверка жалобы") is None
    assert about_else("долг по расписке") == "hard" and about_else("универсальная услуга") is None
    assert "#head" in tokens("начальнику цона") and "#head" in tokens("бастығына") and "#head" in tokens("руководителю")


def test_out_of_scope_model_is_learned_from_labelled_queries() -> None:
    """The "none of these" class is a naive Bayes of in-scope against out-of-scope queries: a word of the latter
    speaks for out of scope, one of the former against it, and how many words the model never met is learned from the
    words met only once ("!new1", ...)."""
    from bot.domain.faq import _new_marks, _oos_model

    inside = [tokens(q) for q in ("жалобу не рассмотрели", "шағымыма жауап жоқ", "жалобу вернули без ответа")]
    outside = [tokens(q) for q in ("погода завтра дождь", "какая погода в городе", "ауа райы суық па")]
    odds, prior = _oos_model(inside, outside)
    assert prior == 0.0 and odds["погода"] > 0 > odds["#complaint"]
    assert "!new1" in odds and "дожд" not in odds  # met once: says only that a word is new
    assert _new_marks(["лимон", "банан", "#court", "5"], lambda w: False) == ["!new1", "!new2"]
    assert _new_marks(["лимон", "банан"], {"лимон", "банан"}.__contains__) == []
    assert _oos_model(inside, []) == ({}, 0.0)


@pytest.mark.parametrize(
    "query,lang,expected",
    [
        # name nothing of the domain, but read like the labelled in-scope questions
        ("бейджигі жоқ еді, аты-жөнін сұрамадым", "kk", "official_details"),
        ("мекенжайды көрсетпесем жарай ма", "kk", "anonymous"),
        ("если я не укажу адрес, жалобу примут", "ru", "anonymous"),
        # a weak match that reads like the labelled out-of-scope queries (disability benefits, bailiffs): nothing
        ("мүгедектік тобын қайта куәландыру қашан", "kk", None),
        ("сот орындаушысы картамды бұғаттап тастады", "kk", None),
        # close to out-of-scope queries of the labelled sets (a word's translation, a phone operator, a number's
        # arithmetic, the bot's age, a family quarrel) rather than to any entry: the "none of these" entry
        ("как написать слово жалоба по-английски", "ru", None),
        ("билайнға шағым, байланыс жоқ", "kk", None),
        ("число 1414 простое?", "ru", None),
        ("1414 жұп сан ба", "kk", None),
        ("бот, сен нешедесің", "kk", None),
        ("күйеуім үнемі шағымданады", "kk", None),
    ],
)
def test_round7_learned_scope(index: FaqIndex, query: str, lang: str, expected: str | None) -> None:
    assert [h.id for h in index.search(query, lang=lang)][:1] == ([expected] if expected else [])


def test_none_of_these_entry_is_not_shown() -> None:
    """The "none of these" entry is for matching only: no id, category list or entry shows it."""
    from bot.domain.faq import OOS_KEY

    index = default_index()
    assert OOS_KEY not in index.ids() and all(e.id != OOS_KEY for e in index.entries())
    assert all(e.id != OOS_KEY for c in index.categories() for e in index.entries_in(c.id))
    assert len(index.ids()) == len(json.loads((ROOT / "bot" / "domain" / "data" / "faq.json").read_text())["entries"])


def test_in_essence_is_no_milk(index: FaqIndex) -> None:
    """Folded letters and doubled ones made the Russian "сути" ("по сути", in essence) the Kazakh "сүтті" (milky),
    an everyday topic; only "сүт" and "сүттің" name milk now."""
    assert about_else("ответили на жалобу, но по сути ничего не изменилось") is None
    assert about_else("сүттің бағасы қанша") == "hard"
    hits = index.search("ответили на жалобу, но по сути ничего не изменилось", lang="ru")
    assert [h.id for h in hits][:1] == ["disagree_with_result"]


def test_learned_out_of_scope_class_decides_weak_matches() -> None:
    """The same knowledge base and examples without the labelled out-of-scope queries: the in-domain rule alone
    rejects a question that names nothing of the domain, and a weak match that reads like out of scope is answered."""
    from bot.domain.faq import DEFAULT_PATH, EXAMPLES_PATH, OOS_KEY

    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    more = json.loads(EXAMPLES_PATH.read_text(encoding="utf-8"))["examples"]
    assert sum(len(v) for v in more[OOS_KEY].values()) > 1000
    without = FaqIndex.from_dict(data, {k: v for k, v in more.items() if k != OOS_KEY})
    assert without.search("бейджигі жоқ еді, аты-жөнін сұрамадым", lang="kk") == []
    assert without.search("сот орындаушысы картамды бұғаттап тастады", lang="kk") != []
    assert default_index().search("сот орындаушысы картамды бұғаттап тастады", lang="kk") == []


def test_kazakh_gratitude_is_thanks() -> None:
    """«алғыс» (gratitude) with «айту» / «білдіру» is the Kazakh "thank you", as «рақмет» is; a question that says
    whom to tell ("кімге айтамын") is no small talk."""
    assert small_talk("Сізге алғыс айтамын!") == small_talk("көп алғыс білдіремін") == "thanks"
    assert small_talk("кімге айтамын") is None


def test_greetings_get_small_talk_not_search() -> None:
    assert small_talk("привет") == small_talk("сәлем") == small_talk("Сәлеметсіз бе") == "greeting"


def test_in_domain_evidence() -> None:
    """A concept of the procedure, or a word of public services, authorities, their papers or a problem, is in-domain
    evidence; days, numbers, a language or a phone alone are not."""
    from bot.domain.faq import _in_domain

    assert _in_domain(tokens("ЖСН деген не")) and _in_domain(tokens("акимат не ответил"))
    assert _in_domain(tokens("в справке ошибка")) and _in_domain(tokens("мемқызмет алғанда"))
    assert not _in_domain(tokens("сколько дней до нового года")) and not _in_domain(tokens("на каком языке говорят"))


def test_the_blind_set_is_never_learned_from() -> None:
    """bench/faq_heldout8.jsonl is reported by `python -m bench faq` as queries the search never saw: no tool learns
    from it, and only the 223 of its questions that writers happened to word exactly as an earlier one are examples
    the index has (learning from it would make that nearly all of its 616 in-scope rows)."""
    from bench.faq_bench import BLIND, SETS, load_eval
    from bot.domain.faq import EXAMPLES_PATH

    rows = load_eval(*BLIND.values())
    assert len(rows) == 824 and not set(BLIND) & set(SETS)
    data = json.loads((ROOT / "bot" / "domain" / "data" / "faq.json").read_text(encoding="utf-8"))
    own = {q.strip().lower() for e in data["entries"] for qs in e["questions"].values() for q in qs}
    more = json.loads(EXAMPLES_PATH.read_text(encoding="utf-8"))["examples"]
    assert not set(BLIND) & set(json.loads(EXAMPLES_PATH.read_text(encoding="utf-8"))["sets"])
    learned = own | {q.strip().lower() for d in more.values() for v in d.values() for q in v}
    assert len(learned & {r["q"].strip().lower() for r in rows}) <= 223


def test_further_examples_are_what_the_sets_give() -> None:
    """bot/domain/data/faq_examples.json is what bench/faq_train.py writes from every labelled set (run it after a
    set changes, then python -m bot.domain.faq); none of its questions is one of faq.json's own."""
    from bench.faq_train import SETS, examples, render
    from bot.domain.faq import EXAMPLES_PATH

    assert EXAMPLES_PATH.read_text(encoding="utf-8") == render(examples(list(SETS)), list(SETS))
    data = json.loads((ROOT / "bot" / "domain" / "data" / "faq.json").read_text(encoding="utf-8"))
    own = {q.strip().lower() for e in data["entries"] for qs in e["questions"].values() for q in qs}
    more = json.loads(EXAMPLES_PATH.read_text(encoding="utf-8"))["examples"]
    assert sum(len(v) for d in more.values() for v in d.values()) > 2000
    assert not own & {q.lower() for d in more.values() for v in d.values() for q in v}


def test_further_examples_teach_the_search_but_not_the_typo_check() -> None:
    """An index that learned from the further examples finds a set's phrasing an index without them misses; a typo in
    them ("жалба") still names its concept, since typos are judged against faq.json's own words."""
    data = json.loads((ROOT / "bot" / "domain" / "data" / "faq.json").read_text(encoding="utf-8"))
    bare = FaqIndex.from_dict(data, {})
    taught = FaqIndex.from_dict(data, {"no_answer": {"kk": ["шағым бердім бір ай тым-тырыс"]}})
    q = "шағым бердім, бір ай бойы тым-тырыс"
    assert [h.id for h in taught.search(q, lang="kk")][:1] == ["no_answer"]
    assert [h.id for h in bare.search(q, lang="kk")][:1] != ["no_answer"]
    typo = FaqIndex.from_dict(data, {"court": {"ru": ["жалба в суд"]}})
    assert "#complaint" in typo._query_tokens("жалба на цон")
    with pytest.raises(ValueError, match="unknown FAQ entries"):
        FaqIndex.from_dict(data, {"no_such_entry": {"ru": ["?"]}})


def test_word_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A query word's evidence is cached per index, and the cache never holds more than WORD_CACHE_SIZE words (the
    oldest go); the answers do not depend on it."""
    import bot.domain.faq as faq

    fresh = FaqIndex.load()
    queries = [r["q"] for r in _eval_rows()][:150]
    before = [fresh.search(q, lang="ru") for q in queries]
    monkeypatch.setattr(faq, "WORD_CACHE_SIZE", 8)
    small = FaqIndex.load()
    assert [small.search(q, lang="ru") for q in queries] == before
    assert len(small._word_cache) <= 8


def test_search_cpu_per_query() -> None:
    """search() costs well under a millisecond of CPU at the median (0.3-0.4 ms measured on the labelled queries,
    1.2 ms before round 5): the bound is generous, for a loaded machine."""
    idx = FaqIndex.load()
    rows = _eval_rows()
    for r in rows:  # the first pass fills the per-word cache, as a running bot's first hours do
        idx.search(r["q"], lang=r["lang"])
    cpu = []
    for r in rows:
        c0 = time.thread_time()
        idx.search(r["q"], lang=r["lang"])
        cpu.append(time.thread_time() - c0)
    cpu.sort()
    assert cpu[len(cpu) // 2] < 0.001, f"median {cpu[len(cpu) // 2] * 1000:.2f} ms"


@pytest.mark.parametrize(
    ("query", "lang"),
    [
        # a lone word several entries share is a topic, not a question
        ("сроки", "ru"), ("документы", "ru"), ("құжаттар", "kk"), ("мерзімдер", "kk"),
        # what an entry does not answer though it shares its words (`Entry.outside`): the bot's price, hours, maker,
        # updates; translating a word; the shelf life of food
        ("бот ақылы ма", "kk"), ("бот тәулік бойы жұмыс істей ме", "kk"), ("бұл ботты кім жасап шығарды", "kk"),
        ("бот обновится когда?", "ru"), ("бот работает ночью?", "ru"),
        ("как по-казахски будет заявление", "ru"), ("шағым сөзі орысша қалай", "kk"),
        ("мерзімі өткен кефир ішуге бола ма", "kk"),
        # how to obtain a service: what to bring for it, where the nearest office is
        ("какие бумаги взять для получения справки о несудимости", "ru"), ("где ближайший акимат", "ru"),
        ("ең жақын ХҚКО қайда", "kk"),
    ],
)
def test_round8_out_of_scope(index: FaqIndex, query: str, lang: str) -> None:
    assert index.search(query, lang=lang) == []


@pytest.mark.parametrize(
    ("query", "lang", "expected"),
    [
        ("анонимно", "ru", "anonymous"), ("эцп", "ru", "sign_electronically"),
        ("инвалиду не сделали пандус в цоне", "ru", "disabled_access"),
    ],
)
def test_round8_boundaries_keep_the_entries(index: FaqIndex, query: str, lang: str, expected: str) -> None:
    """A lone word only one entry is about is still answered; an entry's "outside" phrases leave its own questions."""
    assert [h.id for h in index.search(query, lang=lang)][:1] == [expected]


def test_entry_outside_lowers_only_that_entry() -> None:
    """An entry's "outside" phrases (faq.json) make the entry less likely for a query that names them; other entries
    and queries without them score as before."""
    data = json.loads((ROOT / "bot" / "domain" / "data" / "faq.json").read_text(encoding="utf-8"))
    bare = json.loads(json.dumps(data))
    for e in bare["entries"]:
        e.pop("outside", None)
    with_, without = FaqIndex.from_dict(data, {}), FaqIndex.from_dict(bare, {})
    bot = with_.ids().index("bot_help")
    q = "бот работает круглосуточно?"
    assert with_.raw_scores(q)[bot] < 0.7 * without.raw_scores(q)[bot]
    assert with_.raw_scores("что умеет бот") == without.raw_scores("что умеет бот")


@pytest.mark.parametrize(
    ("query", "lang", "expected"),
    [
        # Kazakh "what is called X": «деп нені айтады», also typed without Kazakh letters
        ("ХҚКО деп нені айтады", "kk", "what_is_con"),
        # "what do you do" asked of the bot
        ("а ты что делаешь вообще?", "ru", "bot_help"), ("ты что делаешь?", "ru", "bot_help"),
        # a question to the bot about an address is no question how to obtain a service
        ("бот ЖСН мен мекенжайымды сақтай ма", "kk", "personal_data"),
        # renewing a digital signature is obtaining a service
        ("эцп қалай жаңартамын", "kk", None),
    ],
)
def test_round8_phrases(index: FaqIndex, query: str, lang: str, expected: str | None) -> None:
    assert [h.id for h in index.search(query, lang=lang)][:1] == ([expected] if expected else [])


def test_kazakh_definition_phrases() -> None:
    assert "#define" in tokens("жумыс куни деп нени айтады") and "#define" in tokens("бұл деп аталады")
    assert "#askbot" in tokens("сен не істейсің") and "#askbot" not in tokens("не істеймін")


def test_words_written_apart_are_joined() -> None:
    """Two query words, one of them unknown, that joined are a word of faq.json («түп нұсқа» ~ «түпнұсқа») add the
    joined word; known words, stop words and a negation are never joined ("не согласен")."""
    data = json.loads((ROOT / "bot" / "domain" / "data" / "faq.json").read_text(encoding="utf-8"))
    bare = FaqIndex.from_dict(data, {})
    assert "тупнускани" in bare._query_tokens("түп нұсқаны да қоса жіберу керек пе")
    assert "тупнускасин" in bare._query_tokens("туп нускасын коса беремин бе")
    assert not any(" " not in t and t.startswith("несогл") for t in bare._query_tokens("не согласен с ответом"))
    assert bare._query_tokens("шағым беру мерзімі") == tokens("шағым беру мерзімі", fuzzy=True)


def test_round8_rudeness_words() -> None:
    """Impolite, insulting, humiliating (and the Kazakh «тұрпайы», «мазақ», «балағат», «қорлау») are rudeness."""
    for q in ("невежливо разговаривал", "оскорбили в окне", "унизили при людях", "тұрпайы жауап берді",
              "мазақ қылды", "балағаттап сөйледі", "мені қорлады"):
        assert "#rude" in tokens(q), q
    assert "#rude" not in tokens("кекеке")


@pytest.mark.parametrize(
    "query",
    ["министерство работает в субботу?", "часы приёма у акима района", "әкімнің қабылдау кестесі қандай"],
)
def test_round8_office_hours_of_an_authority(index: FaqIndex, query: str) -> None:
    """When an authority (akimat, ministry) receives people is no complaint, like a service centre's hours."""
    assert index.search(query) == []


def test_round8_sums_in_words(index: FaqIndex) -> None:
    """A number with a verb of sums is arithmetic, whatever number it is ("1414"); dividing a procedure is not."""
    for q, lang in (("1414-ті үшке көбейтсе қанша болады", "kk"), ("делится ли 1414 на 2?", "ru"),
                    ("бұл сан бөлінеді ме 3-ке: 1414", "kk")):
        assert about_else(q) == "hard", q
        assert index.search(q, lang=lang) == [], q
    assert about_else("срок 5 дней разделили на два этапа") is None
    assert about_else("шағым 3 бөлімге бөлінеді ме") is None


def test_round8_utilities_and_spoken_languages() -> None:
    """Water, power, heating and gas at home are an everyday topic (the Kazakh «суды», "the water", is not the Russian
    «суди»); the language people speak in a country is not the language of a complaint."""
    for q in ("үйде жарық жоқ екі күн болды", "нет горячей воды уже неделю", "отключили газ на три дня"):
        assert about_else(q) == "hard", q
    assert about_else("хочу судиться с акиматом") is None
    data = json.loads((ROOT / "bot" / "domain" / "data" / "faq.json").read_text(encoding="utf-8"))
    idx = FaqIndex.from_dict(data, {})
    lang = idx.ids().index("language_of_complaint")
    spoken = idx.raw_scores("Қытайда қандай тілде сөйлейді").get(lang, 0.0)
    assert spoken < 0.5 * idx.raw_scores("шағымды қандай тілде жазамын")[lang]
