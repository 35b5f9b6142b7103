"""Catalog tooling on Babel's API: extract, update, compile (make locales-*).

    python scripts/i18n.py extract   # code -> locales/messages.pot
    python scripts/i18n.py update    # pot -> locales/{kk,ru}/LC_MESSAGES/messages.po (+ locales/_incoming/*.json)
    python scripts/i18n.py compile   # po -> mo (fuzzy and empty entries are never compiled)
    python scripts/i18n.py all       # the three in order

The .po files are the source of truth: `update` keeps their translations and adds new msgids empty
(tests/test_catalogs.py then fails until they are translated). Optional hand-off for translations
written alongside code, when several people change strings at once: `locales/_incoming/*.json`,
{"msgid": {"kk": "...", "ru": "..."}}; `update` folds it into the .po files; then delete it.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.domain.text import LANGUAGES  # the one definition of the languages

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
LANGS = LANGUAGES
SOURCES = ("bot", "handlers", "storage")
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "N_": None,
    "__": None,
    "lazy_gettext": None,
}
METHOD_MAP = [("**.py", "python")]


def extract_catalog() -> Catalog:
    """The msgids the code uses now."""
    catalog = Catalog(project="shagym", version="0.1", msgid_bugs_address="", charset="utf-8")
    for src in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / src, METHOD_MAP, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",), strip_comment_tags=True
        ):
            catalog.add(message, None, [(f"{src}/{filename}", lineno)], auto_comments=comments, context=context)
    return catalog


def extract() -> Catalog:
    catalog = extract_catalog()
    with POT.open("wb") as fh:
        write_po(fh, catalog, width=100, sort_output=False, omit_header=False)
    print(f"extracted {len(catalog)} messages -> {POT.relative_to(ROOT)}")
    return catalog


def _incoming() -> dict:
    merged: dict = {}
    for path in sorted((LOCALES / "_incoming").glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def update() -> None:
    with POT.open("rb") as fh:
        template = read_po(fh)
    incoming = _incoming()
    for lang in LANGS:
        po = LOCALES / lang / "LC_MESSAGES" / "messages.po"
        po.parent.mkdir(parents=True, exist_ok=True)
        if po.exists():
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=lang)
        else:
            catalog = Catalog(locale=lang, project="shagym", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        for message in catalog:
            if not message.id:
                continue
            key = message.id[0] if isinstance(message.id, tuple) else message.id
            tr = incoming.get(key, {}).get(lang)
            if tr:
                message.string = tuple(tr) if isinstance(message.id, tuple) else tr
                message.flags.discard("fuzzy")
        catalog.revision_date = datetime.now(timezone.utc)
        catalog.last_translator = "Shagym team"
        with po.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, include_previous=False)
        missing = [m.id for m in catalog if m.id and (not _filled(m) or m.fuzzy)]
        print(f"{lang}: {len(catalog)} messages, {len(missing)} untranslated")


def _filled(message) -> bool:
    if isinstance(message.string, (tuple, list)):
        return all(message.string)
    return bool(message.string)


def compile_() -> None:
    for lang in LANGS:
        po = LOCALES / lang / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        with po.with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
    print("compiled catalogs")


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "all"
    if cmd in ("extract", "all"):
        extract()
    if cmd in ("update", "all"):
        update()
    if cmd in ("compile", "all"):
        compile_()
    if cmd not in ("extract", "update", "compile", "all"):
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
