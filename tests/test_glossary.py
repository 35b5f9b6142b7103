"""One terminology and grammar by construction, over every catalog msgstr and every FAQ title and answer:
the glossary's "do not use" variants (locales/GLOSSARY.md), last days written as «не позднее {date}» /
«соңғы күні: {date}», no «г..», working days called working days, and a missed answer never called a refusal."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("kk", "ru")


@lru_cache(maxsize=None)
def msgstrs(lang: str) -> tuple[tuple[str, str], ...]:
    """(msgid, msgstr) for every translation, each plural form on its own."""
    with (ROOT / "locales" / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    out = []
    for m in catalog:
        if not m.id:
            continue
        msgid = m.id if isinstance(m.id, str) else m.id[0]
        for s in (m.string if isinstance(m.string, tuple) else (m.string,)):
            out.append((msgid, s))
    return tuple(out)


@lru_cache(maxsize=None)
def faq_texts(lang: str) -> tuple[tuple[str, str], ...]:
    """(where, text) for every FAQ category title, entry title and answer in ``lang``."""
    data = json.loads((ROOT / "bot" / "domain" / "data" / "faq.json").read_text(encoding="utf-8"))
    out = [(f"category {c['id']}", c["title"][lang]) for c in data["categories"]]
    for e in data["entries"]:
        out.append((f"{e['id']} title", e["title"][lang]))
        out.append((f"{e['id']} answer", e["answer"][lang]))
    return tuple(out)


def texts(lang: str) -> list[tuple[str, str]]:
    return [(f"msgstr for {msgid!r}", s) for msgid, s in msgstrs(lang)] + list(faq_texts(lang))


# ------------------------------------------------------------------------------------ the glossary

_VARIANT = re.compile(r"\b(kk|ru) «([^»]+)»")


def glossary() -> list[tuple[dict[str, str], list[tuple[str, str]]]]:
    """Rows of the glossary's first table: ({"kk": official, "ru": official}, [(lang, variant), ...])."""
    rows = []
    for line in (ROOT / "locales" / "GLOSSARY.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("Notion", "---") or not cells[3]:
            continue
        rows.append(({"kk": cells[1], "ru": cells[2]}, _VARIANT.findall(cells[3])))
    return rows


def _pattern(variant: str) -> re.Pattern:
    prefix = variant.endswith("…")
    body = re.escape(variant.rstrip("…"))
    return re.compile(rf"(?<!\w){body}" + ("" if prefix else r"(?!\w)"), re.IGNORECASE)


def test_glossary_is_read() -> None:
    rows = glossary()
    assert len(rows) >= 12
    variants = {v for _, vs in rows for v in vs}
    for expected in (("kk", "қызметті беруші…"), ("kk", "жеке деректер…"), ("kk", "мүмкіндігі шектеулі…"),
                     ("kk", "электронды"), ("kk", "рахмет"), ("kk", "адаммен сөйлесу…"), ("ru", "поговорить с человеком"),
                     ("kk", "асыра пайдалан…"), ("ru", "превышени…")):
        assert expected in variants, expected


@pytest.mark.parametrize("lang", LANGS)
def test_no_do_not_use_variant(lang: str) -> None:
    problems = []
    for official, variants in glossary():
        patterns = [(v, _pattern(v)) for vl, v in variants if vl == lang]
        if not patterns:
            continue
        own = re.compile(re.escape(official[lang].split(" (")[0]), re.IGNORECASE)
        for where, text in texts(lang):
            cleaned = own.sub(" ", text)
            for variant, pattern in patterns:
                if pattern.search(cleaned):
                    problems.append(f"{where}: «{variant}» in {text[:120]!r}")
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_variant() -> None:
    official = "көрсетілетін қызметті беруші"
    cleaned = re.compile(re.escape(official), re.IGNORECASE).sub(" ", "Көрсетілетін қызметті берушіге және қызметті берушіге")
    assert _pattern("қызметті беруші…").search(cleaned)
    assert not _pattern("қызметті беруші…").search(re.compile(re.escape(official), re.IGNORECASE).sub(" ", "Көрсетілетін қызметті берушіге"))
    assert not _pattern("электронды").search("электрондық пошта") and _pattern("электронды").search("Электронды қол")


# ------------------------------------------------------------------------------------ grammar by construction

DATE_PLACEHOLDERS = ("date", "due", "registered", "told", "original")


@pytest.mark.parametrize("lang", LANGS)
def test_last_days_and_dates_by_construction(lang: str) -> None:
    problems = []
    for where, text in texts(lang):
        if "г.." in text:
            problems.append(f"{where}: «г..»")
        if lang == "ru":
            if re.search(r"(?<!\w)до \{", text):  # «до {date}» reads as "before": «не позднее {date}»
                problems.append(f"{where}: «до {{…}}» in {text[:120]!r}")
            # a long Russian date ends in «г.»: a full stop right after it gives «г..»
            if re.search(r"\{(%s)\}\." % "|".join(DATE_PLACEHOLDERS), text):
                problems.append(f"{where}: a date placeholder before a full stop in {text[:120]!r}")
        else:
            # a Kazakh date or number takes no case ending from a template: «{date} дейін», «{n} бастап»
            if re.search(r"\{\w+\}\s*-?(дейін|бастап|кейін|бұрын|дан|ден|нан|нен|ға|ге|қа|ке|да|де|та|те)(?!\w)", text):
                problems.append(f"{where}: a placeholder glued into a phrase in {text[:120]!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGS)
def test_working_days_are_called_working_days_in_faq_titles(lang: str) -> None:
    bare = re.compile(r"\d+\s+(дн(я|ей)|день)" if lang == "ru" else r"\d+\s+күн")
    work = "рабоч" if lang == "ru" else "жұмыс"
    bad = [t for where, t in faq_texts(lang) if where.endswith("title") and bare.search(t) and work not in t]
    assert not bad, bad


@pytest.mark.parametrize("lang", LANGS)
def test_no_internal_names(lang: str) -> None:
    bad = [(where, t[:80]) for where, t in texts(lang) if re.search(r"\bseed\b", t, re.IGNORECASE)]
    assert not bad, bad


_REFUSAL = {"ru": re.compile(r"считается\s+отказом"), "kk": re.compile(r"бас тарту (болып саналады|деп есептеледі)")}
_ANSWER = {"ru": re.compile(r"ответ|рассмотрени", re.IGNORECASE), "kk": re.compile(r"жауап|қарау", re.IGNORECASE)}


@pytest.mark.parametrize("lang", LANGS)
def test_a_missed_answer_is_inaction_not_a_refusal(lang: str) -> None:
    """docs/legal.md, 'Inaction and refusal': "missed deadline = refusal" is for the service's own deadline; an
    unanswered complaint is inaction. No text about an answer or a review may call a missed deadline a refusal."""
    bad = []
    for where, text in texts(lang):
        if _REFUSAL[lang].search(text) and _ANSWER[lang].search(text):
            bad.append(f"{where}: {text[:140]!r}")
    assert not bad, "\n".join(bad)
