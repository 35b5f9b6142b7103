"""Every msgid has a real, non-fuzzy translation in kk and ru, and the catalogs cover the code."""

from pathlib import Path

from babel.messages.pofile import read_po

LOCALES = Path(__file__).resolve().parent.parent / "locales"


def _catalog(lang):
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def test_every_msgid_translated_in_kk_and_ru():
    problems = []
    for lang in ("kk", "ru"):
        for message in _catalog(lang):
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.fuzzy or not all(s and s.strip() for s in strings):
                problems.append(f"{lang}: {message.id!r}")
    assert not problems, "\n".join(problems)


def test_catalogs_match_the_code():
    """The .po files hold exactly the msgids the code uses (run `make locales` after changing strings)."""
    import scripts.i18n as tool

    extracted = {m.id for m in tool.extract_catalog() if m.id}
    for lang in ("kk", "ru"):
        in_po = {m.id for m in _catalog(lang) if m.id}
        assert extracted - in_po == set(), f"{lang}: msgids missing from the catalog"
