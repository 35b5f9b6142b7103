"""Console mode as a person uses it: `python -m bot console` in a subprocess, a script piped to its input.

Buttons are pressed with /1, /2, ...; whatever else is typed (a number too) is an answer. A date picker is a
compact month calendar (days picked with /d5), the wizard's attachments step takes a file's path, the console's
own notes speak the person's language, and the terminal shows nothing but the conversation.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.console import ATTACH_HINT, BANNER, CALENDAR_HINT, CONTACT_HINT, NO_BUTTON, NO_DAY, NO_FILE
from bot.domain.complaint import unpack_fields
from bot.domain.documents import document_text
from tests.test_wizard import I18N, tr

ROOT = Path(__file__).resolve().parents[1]


def console(tmp_path: Path, lines: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "OPERATORS", "DATABASE"))}
    env.update(BOT_TOKEN="", DATABASE_PATH=str(tmp_path / "data" / "shagym.sqlite3"))
    return subprocess.run([sys.executable, "-m", "bot", "console"], input="\n".join(lines) + "\n", env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def turns(out: str) -> dict[str, list[str]]:
    """What the console printed after each typed line (the same line typed twice: both answers, in order)."""
    found: dict[str, list[str]] = {}
    for chunk in out.split("\nyou> ")[1:]:
        typed, _, answer = chunk.partition("\n")
        found.setdefault(typed, []).append(answer)
    return found


def buttons(answer: str) -> list[str]:
    """The numbered buttons listed at the end of an answer."""
    line = [ln for ln in answer.splitlines() if ln.strip().startswith("[/")][-1]
    return re.findall(r"\[/\d+\] ([^\[]*?)(?=\s*\[/|\s*$)", line)


# ---------------------------------------------------------------------------------------- the walkthrough

TODAY = datetime.now(ZoneInfo("Asia/Almaty")).date()
PREVIOUS_MONTH_15 = (TODAY.replace(day=1) - timedelta(days=1)).replace(day=15)

ANSWERS = {
    "kk": {
        "recipient_name": "Алматы қаласы Алмалы ауданының ХҚКО басшысы",
        "org_name": "«Шығыс Құрылыс» ЖШС",
        "postal_address": "050000, Алматы қ., Әл-Фараби даңғылы 77, 5-кеңсе",
        "representative_name": "Сейітқали Нұрлан Болатұлы",
        "representative_position": "Директор",
        "service_name": "Құрылысқа рұқсат беру",
        "organisation": "Алматы қаласының сәулет және қала құрылысы басқармасы",
        "officials": "Бас маман Ахметов Б.",
        "description": "Біз барлық құжаттарды тапсырдық, бірақ қызмет стандартында жоқ анықтаманы әкелуді талап етті.",
        "demands": "Стандартта көзделмеген анықтамаларсыз құжаттарды қабылдап, қызметті мерзімінде көрсетуді сұраймыз",
    },
    "ru": {
        "recipient_name": "Руководителю ЦОН Алмалинского района г. Алматы",  # as it stands on the document
        "org_name": "ТОО «Шығыс Құрылыс»",
        "postal_address": "050000, г. Алматы, проспект аль-Фараби 77, офис 5",
        "representative_name": "Сейтқали Нурлан Болатович",
        "representative_position": "Директор",
        "service_name": "Выдача разрешения на строительство",
        "organisation": "Управление архитектуры и градостроительства г. Алматы",
        "officials": "Главный специалист Ахметов Б.",
        "description": "Мы подали полный пакет документов, но нас попросили принести справку, которой нет в стандарте.",
        "demands": "Принять документы без справок, не предусмотренных стандартом, и оказать услугу в срок",
    },
}


def walkthrough(lang: str, attachment: Path) -> list[str]:
    """A legal entity's whole complaint, as typed. Numbers alone are answers; /N presses button N."""
    a = ANSWERS[lang]
    return [
        "/start", "/1" if lang == "kk" else "/2",  # the language
        "/complaint", "/1",  # I agree
        "/3",  # grounds: documents the standard does not list
        "/1",  # to the head of the service provider
        a["recipient_name"],
        "/2",  # a legal entity
        a["org_name"], "940140000385",
        "1",  # the outgoing number is 1: an answer, not button 1
        "/2", "/d15",  # outgoing date: one month back in the calendar, then its 15th
        a["postal_address"],
        "/2",  # no other actual address: Skip
        a["representative_name"], a["representative_position"],
        "/4",  # "share my phone number": the console explains what to do instead
        "+7 727 123 45 67",
        "info@shygys.kz",
        a["service_name"], a["organisation"],
        "/d1", "/d1",  # decision and learned: the 1st of this month
        a["officials"], a["description"], a["demands"],
        "4",  # typed at the attachments step: an answer (refused: files only), not «Done»
        str(attachment),  # a file's path attaches it
        "/1",  # Done
        "/23",  # Confirm and get the document
    ]


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_a_whole_complaint_in_the_console(tmp_path, lang):
    attachment = tmp_path / "talon.pdf"
    attachment.write_bytes(b"%PDF-1.4 talon")
    result = console(tmp_path, walkthrough(lang, attachment))
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and "WARNING" not in out and "Traceback" not in out
    said = turns(out)

    # "1" at the outgoing-number step was the answer: the next question is the outgoing date.
    assert tr("Date of the outgoing letter (for example 15.03.2025), or pick it below:", lang) in said["1"][0]
    # The date picker is a compact calendar: a handful of buttons, none of them a blank cell.
    picker = said["1"][0]
    assert tr(CALENDAR_HINT, lang) in picker
    assert len(buttons(picker)) <= 10 and all(b.strip() for b in buttons(picker))
    days_row = [ln for ln in picker.splitlines() if re.fullmatch(r"\s*(\d{1,2}|·)(\s+(\d{1,2}|·))*\s*", ln)]
    assert 4 <= len(days_row) <= 6
    # Month navigation edits the calendar; /d15 then picks the 15th of that month.
    assert tr("Postal address for the answer (city, street, house, flat; the postcode if you know it):", lang) \
        in said["/d15"][0]
    # The contact button is explained in the person's language.
    assert tr(CONTACT_HINT, lang) in said["/4"][0]
    # "4" at the attachments step was an answer too, refused; the path attached the file.
    assert tr(ATTACH_HINT, lang) in said[ANSWERS[lang]["demands"]][0]
    assert tr("Only photos and documents (files) can be attached here. Press «Done» when you finish.", lang) \
        in said["4"][0]
    assert I18N.gettext("Added: {name}. {count} file attached so far. Send more, or press «Done».",
                        "Added: {name}. {count} files attached so far. Send more, or press «Done».", 1,
                        locale=lang).format(name="talon.pdf", count=1) in said[str(attachment)][0]

    review = said["/1"][-1]
    assert f"{tr('Outgoing number', lang)}: 1\n" in review
    assert f"{tr('Outgoing date', lang)}: {PREVIOUS_MONTH_15:%d.%m.%Y}" in review
    assert "talon.pdf" in review

    # The documents are where the banner says, in the person's language, with every answer.
    docs = tmp_path / "data" / "console"
    assert str(docs) in out.split("\n", 2)[lang == "ru"]
    docx = next(docs.glob("*.docx"))
    assert next(docs.glob("*.pdf")) and str(docx) in said["/23"][0]
    assert "✏️" not in said["/23"][0]  # the review's buttons are gone once the complaint is confirmed
    text = document_text(docx.read_bytes())
    for value in ANSWERS[lang].values():
        assert value in text, value
    assert "940140000385" in text and "talon.pdf" in text and PREVIOUS_MONTH_15.strftime("%d.%m.%Y") in text
    with sqlite3.connect(tmp_path / "data" / "shagym.sqlite3") as conn:
        (data,) = conn.execute("SELECT data FROM complaints").fetchone()
    stored = unpack_fields(data)
    assert stored["outgoing_number"] == "1" and stored["language"] == lang
    assert [a["name"] for a in stored["attachments"]] == ["talon.pdf"]


def test_tracking_in_the_console_typed_numbers_and_its_date_picker(tmp_path):
    """/my: a registration number "4" and an extension of "4" working days are typed answers; the tracking
    questions' date picker is the same compact calendar."""
    lines = ["/start", "/2", "/my", "/1",  # I have already filed a complaint
             "/1", "ЦОН Алмалинского района г. Алматы",  # reviewed by the provider; where it was filed
             "/2", "/d3",  # registered: the 3rd of the previous month
             "4",  # registration number 4
             "/4",  # learned: Skip
             "/1", "4", "/4", "/4"]  # extended: by 4 working days; the day not known, not told yet
    result = console(tmp_path, lines)
    assert result.returncode == 0 and result.stderr == ""
    said = turns(result.stdout)
    assert tr(CALENDAR_HINT, "ru") in said["ЦОН Алмалинского района г. Алматы"][0]
    with sqlite3.connect(tmp_path / "data" / "shagym.sqlite3") as conn:
        registered_on, reg_number, extended_by = conn.execute(
            "SELECT registered_on, reg_number, extended_by FROM cases").fetchone()
    third = (TODAY.replace(day=1) - timedelta(days=1)).replace(day=3)
    assert reg_number == "4" and extended_by == 4
    assert third <= datetime.strptime(registered_on, "%Y-%m-%d").date() <= third + timedelta(days=4)  # off days


# ---------------------------------------------------------------------------------------- the console's notes

def test_start_is_quiet_and_the_console_speaks_the_persons_language(tmp_path):
    result = console(tmp_path, ["/start", "/1", "/9", "/d3", "7"])
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and "WARNING" not in result.stdout
    first, second = result.stdout.splitlines()[:2]
    docs, db = tmp_path / "data" / "console", tmp_path / "data" / "shagym.sqlite3"
    assert first == tr(BANNER, "kk").format(docs=docs, db=db) and second == tr(BANNER, "ru").format(docs=docs, db=db)
    said = turns(result.stdout)
    assert tr(NO_BUTTON, "kk").format(button="/9") in said["/9"][0]
    assert tr(NO_DAY, "kk").format(day="3") in said["/d3"][0]
    assert "bot>" in said["7"][0]  # a bare number is a message (the FAQ answers it), not button 7
    log = (tmp_path / "data" / "console.log").read_text(encoding="utf-8")
    assert "OPERATORS_CHAT_ID is not set" in log  # the start-up notes went to the log file


def test_a_path_that_is_not_a_file_is_named(tmp_path):
    lines = walkthrough("ru", tmp_path / "talon.pdf")
    lines = lines[: lines.index("4") + 1] + [str(tmp_path / "nope.pdf")]
    said = turns(console(tmp_path, lines).stdout)
    assert tr(NO_FILE, "ru").format(path=tmp_path / "nope.pdf") in said[str(tmp_path / "nope.pdf")][0]


def test_ctrl_c_ends_the_console_at_once_and_quietly(tmp_path):
    import signal

    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "OPERATORS", "DATABASE"))}
    env.update(BOT_TOKEN="", DATABASE_PATH=str(tmp_path / "shagym.sqlite3"))
    proc = subprocess.Popen([sys.executable, "-m", "bot", "console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT, text=True)
    try:
        assert proc.stdout.readline()  # the banner: the console waits for a line now
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)  # the input is still open: a read must not hold the exit
    finally:
        proc.kill()
    assert proc.returncode == 0 and err == ""
    assert "stopped" in (tmp_path / "console.log").read_text(encoding="utf-8")
