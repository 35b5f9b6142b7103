"""Numbers agree with their nouns: every count of days, files, cases, characters goes through ngettext with the
catalogs' plural forms (ru: 3, kk: 2), checked through the same I18n the bot uses."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from bot.services.i18n import LOCALES_DIR, build_i18n, plural_translator

I18N = build_i18n()


def plural(lang: str, singular: str, plural_: str, n: int, **kw) -> str:
    return plural_translator(I18N, lang)(singular, plural_, n).format(n=n, **kw)


@pytest.mark.parametrize(
    ("n", "ru", "kk"),
    [
        (1, "остался 1 рабочий день", "1 жұмыс күні қалды"),
        (2, "осталось 2 рабочих дня", "2 жұмыс күні қалды"),
        (5, "осталось 5 рабочих дней", None),
        (11, "осталось 11 рабочих дней", None),
        (21, "остался 21 рабочий день", None),
    ],
)
def test_working_days_left(n, ru, kk):
    assert plural("ru", "{n} working day left", "{n} working days left", n) == ru
    if kk:
        assert plural("kk", "{n} working day left", "{n} working days left", n) == kk


@pytest.mark.parametrize(
    ("n", "ru"),
    [(1, "продлён на 1 рабочий день"), (2, "продлён на 2 рабочих дня"), (5, "продлён на 5 рабочих дней"),
     (11, "продлён на 11 рабочих дней"), (21, "продлён на 21 рабочий день")],
)
def test_extended_by(n, ru):
    assert plural("ru", "extended by {n} working day", "extended by {n} working days", n) == ru
    assert plural("kk", "extended by {n} working day", "extended by {n} working days", n) == f"{n} жұмыс күніне ұзартылды"


@pytest.mark.parametrize(("n", "ru"), [(1, "1 файла"), (2, "2 файлов"), (5, "5 файлов"), (11, "11 файлов"), (21, "21 файла")])
def test_files(n, ru):
    text = plural_translator(I18N, "ru")("You can attach at most {limit} file. Press «Done» to go on.",
                                         "You can attach at most {limit} files. Press «Done» to go on.", n).format(limit=n)
    assert text.startswith(f"Можно приложить не более {ru}.")
    kk = plural_translator(I18N, "kk")("You can attach at most {limit} file. Press «Done» to go on.",
                                       "You can attach at most {limit} files. Press «Done» to go on.", n).format(limit=n)
    assert kk.startswith(f"Ең көбі {n} файл ")


@pytest.mark.parametrize(("n", "ru"), [(1, "по 1 открытому делу"), (2, "по 2 открытым делам"), (5, "по 5 открытым делам"),
                                       (11, "по 11 открытым делам"), (21, "по 21 открытому делу")])
def test_cases(n, ru):
    s = "Recorded: {date} is {what} ({kind}). Deadlines now use it; reminders of {n} open case were re-planned."
    p = "Recorded: {date} is {what} ({kind}). Deadlines now use it; reminders of {n} open cases were re-planned."
    assert ru in plural("ru", s, p, n, date="2027-05-17", what="x", kind="kurban_ait")


def _catalog(lang):
    with (LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


@pytest.mark.parametrize(("lang", "forms"), [("ru", 3), ("kk", 2)])
def test_every_plural_message_has_all_forms_with_the_same_placeholders(lang, forms):
    plurals = [m for m in _catalog(lang) if m.id and isinstance(m.id, tuple)]
    assert len(plurals) >= 15
    for m in plurals:
        assert len(m.string) == forms and all(m.string), m.id
        expected = set(re.findall(r"\{\w+\}", m.id[1]))
        for s in m.string:
            assert set(re.findall(r"\{\w+\}", s)) == expected, (m.id, s)


def test_no_count_glued_after_a_label_in_a_sentence():
    """«рабочих дней: 5» in a sentence is the construction ngettext replaces: no msgid counts that way."""
    bad = [m.id for m in _catalog("ru") if m.id and isinstance(m.id, str)
           and re.search(r"(days|files|cases|characters|years|ratings)( left| attached)?: \{\w+\}", m.id)]
    assert not bad, bad
