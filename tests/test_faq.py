"""FAQ knowledge base and search (bot/faq.py, bot/faq_cli.py, bench/faq_eval.jsonl)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.faq import FaqIndex, Hit, default_index, skeleton, tokens

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "bench" / "faq_eval.jsonl"
HELDOUT = ROOT / "bench" / "faq_heldout.jsonl"

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
        held_out = sum(r["split"] == "test" for r in mine) + sum(r["lang"] == lang for r in _heldout_rows())
        assert held_out >= 0.4 * (len(mine) + sum(r["lang"] == lang for r in _heldout_rows()))
        assert {r["id"] for r in mine if r["split"] == "test" and r["id"]} >= set(REQUIRED_IDS) - NEW_IDS
    assert sum(r["id"] is None for r in rows) >= 20


def _heldout_rows() -> list[dict]:
    return [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_heldout_set_shape() -> None:
    """The held-out set (written before the current tuning) covers every topic in both languages, incl.
    misspelled colloquial Russian, short definitional questions, sports results and greetings; none of its
    queries is an example question of the knowledge base."""
    rows = _heldout_rows()
    faq_ids = set(default_index().ids())
    examples = {
        q.strip().lower() for e in default_index().entries() for lang in ("kk", "ru") for q in e.questions[lang]
    }
    queries = {r["q"] for r in rows}
    for r in rows:
        assert r["lang"] in ("kk", "ru") and r["split"] == "heldout"
        assert r["id"] is None or r["id"] in faq_ids
        assert r["q"].strip().lower() not in examples, r["q"]
    for lang in ("kk", "ru"):
        assert {r["id"] for r in rows if r["lang"] == lang and r["id"]} >= set(REQUIRED_IDS)
        assert sum(r["id"] is None for r in rows if r["lang"] == lang) >= 30
    assert {"скока дней расматривают жалобу", "что такое иин", "ЖСН деген не", "привет", "сәлем"} <= queries
    assert {r["q"] for r in rows if r.get("kind") == "greeting"} >= {"привет", "сәлем"}


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_heldout_figures(index: FaqIndex, lang: str) -> None:
    """The figures of `python -m bench faq` on the held-out set, as floors at the level measured (129/133 kk,
    119/133 ru; out of scope rejected 25/30 kk, 29/30 ru: below the issue's 97% / 95% targets for ru top-1 and
    kk rejection, see the README), so that they cannot silently fall."""
    floors = {"kk": (0.969, 0.83), "ru": (0.89, 0.96)}
    rows = [r for r in _heldout_rows() if r["lang"] == lang]
    ins = [r for r in rows if r["id"]]
    oos = [r for r in rows if r["id"] is None]
    top1 = sum([h.id for h in index.search(r["q"], lang=lang)][:1] == [r["id"]] for r in ins) / len(ins)
    rejected = sum(not index.search(r["q"], lang=lang) for r in oos) / len(oos)
    assert top1 >= floors[lang][0] and rejected >= floors[lang][1], (lang, top1, rejected)


# --- search -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_heldout_top1_accuracy(index: FaqIndex, lang: str) -> None:
    rows = [r for r in _eval_rows() if r["split"] == "test" and r["lang"] == lang and r["id"]]
    correct = sum([h.id for h in index.search(r["q"], lang=r["lang"])][:1] == [r["id"]] for r in rows)
    assert correct / len(rows) >= 0.90, f"{lang}: {correct}/{len(rows)}"


@pytest.mark.parametrize("query,lang", OUT_OF_SCOPE)
def test_out_of_scope_is_rejected(index: FaqIndex, query: str, lang: str | None) -> None:
    assert index.search(query, lang=lang) == []


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
    ],
)
def test_robustness(index: FaqIndex, query: str, lang: str | None, expected: set[str]) -> None:
    hits = index.search(query, lang=lang)
    assert hits and hits[0].id in expected, hits


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
    data = json.loads((ROOT / "bot" / "data" / "faq.json").read_text(encoding="utf-8"))
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
