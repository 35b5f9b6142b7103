"""The printable complaint, rendered with the real compiled kk/ru catalogs and read back from the DOCX."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from datetime import date
from pathlib import Path

import pytest
from babel.dates import format_date
from babel.support import Translations

from bot.complaint import Attachment, Complaint, grounds_label, recipient_label
from bot.documents import document_filename, document_text, render_docx, render_pdf

LOCALES = Path(__file__).resolve().parent.parent / "locales"
TODAY = date(2026, 11, 22)
NUMBER = "SH-2026-000123"
KAZAKH_LETTERS = "ә ғ қ ң ө ұ ү һ і Ә Ғ Қ Ң Ө Ұ Ү Һ І"


def _catalog(lang: str) -> Translations:
    t = Translations.load(str(LOCALES), [lang], domain="messages")
    if not isinstance(t, Translations):  # NullTranslations: the .mo is missing
        pytest.fail(f"no compiled catalog for {lang}: run `python scripts/i18n.py all`")
    return t


@pytest.fixture(scope="module")
def kk() -> Translations:
    return _catalog("kk")


@pytest.fixture(scope="module")
def ru() -> Translations:
    return _catalog("ru")


def individual_kk() -> Complaint:
    return Complaint(
        grounds="other",
        grounds_other_text="Қызметкер құжатты қабылдамай, 3 сағат кезекте ұстады",
        recipient_kind="provider",
        recipient_name="«Азаматтарға арналған үкімет» МК Алматы қалалық филиалы",
        applicant_kind="individual",
        surname="Әлиханқызы",
        first_name="Айгерім",
        patronymic="Бекқызы",
        iin="061211600012",
        postal_address="Алматы қ., Абай даңғылы 10, 5 пәтер",
        actual_address="Алматы қ., Сәтпаев көшесі 22",
        phone="+77011234567",
        email="aigerim@mail.kz",
        service_name="Тұрғылықты жері бойынша тіркеу",
        organisation="Халыққа қызмет көрсету орталығы №3",
        decision_date=date(2026, 11, 1),
        learned_date=date(2026, 11, 3),
        officials="Бас маман Ғалымов Қ.Ө.",
        description="Өтінішті 2026 жылғы 1 қарашада бердім.\n\nҚызметкер ғ, қ, ң, ө, ұ, ү, һ, і әріптерін дұрыс жазбады.",
        demands="Тіркеуді заңға сәйкес жүргізуді сұраймын.",
        attachments=[Attachment("AgAD1", "талон_өтініш.jpg", "photo"), Attachment("BQAD2", "анықтама.pdf", "document")],
        language="kk",
    )


def individual_ru() -> Complaint:
    return Complaint(
        grounds="deadline_violated",
        recipient_kind="quality_authority",
        recipient_name="Департамент Агентства по делам государственной службы по г. Алматы",
        applicant_kind="individual",
        surname="Иванова",
        first_name="Ольга",
        no_iin=True,
        postal_address="г. Алматы, ул. Толе би 55, кв. 12",
        phone="+77771234567",
        service_name="Выдача справки о зарегистрированных правах",
        organisation="НАО «Государственная корпорация „Правительство для граждан“»",
        learned_date=date(2026, 11, 10),
        description="Срок оказания услуги истёк 10.11.2026, справка не выдана.",
        demands="Выдать справку и привлечь виновных к ответственности.",
        language="ru",
    )


def legal_entity_ru() -> Complaint:
    return Complaint(
        grounds="extra_documents",
        recipient_kind="akim",
        recipient_name="Аким Осакаровского района",
        applicant_kind="legal_entity",
        org_name="ТОО «Жетісу Құрылыс»",
        bin="940140000385",
        outgoing_number="15-2/301",
        outgoing_date=date(2026, 11, 18),
        representative_name="Серікбаев Нұрлан Асқарұлы",
        representative_position="Директор",
        postal_address="г. Астана, ул. Кенесары 1, оф. 7",
        email="info@zhk.kz",
        service_name="Выдача разрешения на строительство",
        organisation="Отдел архитектуры и градостроительства",
        decision_date=date(2026, 11, 12),
        learned_date=date(2026, 11, 13),
        officials="Главный специалист Петров П.П.",
        description="Потребовали справку об отсутствии задолженности, не предусмотренную стандартом.",
        demands="Рассмотреть заявление без истребования лишних документов.",
        attachments=[Attachment("BQAD9", "письмо_отказ.pdf", "document")],
        language="ru",
    )


def pdf_text(data: bytes) -> str:
    """Text of a PDF (pypdf, test-only), NFC-normalised, every run of whitespace folded into one space
    (the extractor breaks wrapped lines and table cells and doubles spaces of justified lines)."""
    from pypdf import PdfReader

    assert data[:5] == b"%PDF-"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return _fold(text)


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def _render(c: Complaint, t: Translations, lang: str) -> str:
    data = render_docx(c, number=NUMBER, gettext=t.gettext, lang=lang, today=TODAY)
    assert data[:2] == b"PK" and zipfile.is_zipfile(io.BytesIO(data))
    return document_text(data)


def _assert_values_present(text: str, c: Complaint) -> None:
    for name in (
        "recipient_name", "surname", "first_name", "patronymic", "iin", "org_name", "bin", "outgoing_number",
        "representative_name", "representative_position", "postal_address", "actual_address", "phone", "email",
        "service_name", "organisation", "officials", "grounds_other_text",
    ):
        value = getattr(c, name)
        if value:
            assert value in text, f"{name}={value!r} missing"
    for name in ("outgoing_date", "decision_date", "learned_date"):
        value = getattr(c, name)
        if value:
            assert value.strftime("%d.%m.%Y") in text, name
    for block in (c.description, c.demands):
        for line in block.split("\n"):
            assert line in text
    for att in c.attachments:
        assert att.name in text


def test_individual_in_kazakh(kk):
    c = individual_kk()
    text = _render(c, kk, "kk")
    _assert_values_present(text, c)
    lines = text.split("\n")
    # language-specific labels (from the real catalog, not the English msgids)
    assert "Шағым" in lines  # title
    assert f"№ {NUMBER}" in text
    for label in ("Кімге", "Кімнен", "Тегі, аты, әкесінің аты", "ЖСН: 061211600012", "Пошталық мекенжайы",
                  "Нақты мекенжайы", "Электрондық пошта", "Қосымшалар", "Қолы", "Шағым берілген күн",
                  "ЭЦҚ", "eOtinish", "Shagym"):
        assert label in text, label
    assert recipient_label("provider", kk.gettext) == "Көрсетілетін қызметті беруші басшысы"
    assert "Көрсетілетін қызметті беруші басшысы" in text
    assert grounds_label("other", kk.gettext) in text
    # Kazakh letters survive the round trip
    assert "Әлиханқызы Айгерім Бекқызы" in text
    assert "ғ, қ, ң, ө, ұ, ү, һ, і" in text
    # numbered attachments with translated kinds
    assert "1. талон_өтініш.jpg (фотосурет)" in lines
    assert "2. анықтама.pdf (құжат)" in lines
    # date of filing (Babel, long) and signature line
    assert format_date(TODAY, format="long", locale="kk") in text
    assert "қараша" in text
    assert "__________ (Әлиханқызы А.Б.)" in text
    # nothing left in English
    for english in ("Complaint", "Signature", "Attachments", "To whom", "Surname"):
        assert english not in text


def test_individual_in_russian_without_iin(ru):
    c = individual_ru()
    text = _render(c, ru, "ru")
    _assert_values_present(text, c)
    lines = text.split("\n")
    assert "Жалоба" in lines
    assert "Шағым" not in text
    assert "ИИН: ИИН отсутствует" in text
    for label in ("Кому", "От кого", "Фамилия, имя, отчество", "Почтовый адрес", "Государственная услуга",
                  "Услугодатель", "Основание жалобы", "На основании изложенного прошу:", "Приложения", "Подпись", "Дата подачи жалобы", "ЭЦП"):
        assert label in text, label
    assert "Фактический адрес" not in text  # actual address only if different
    assert "Электронная почта" not in text  # no e-mail given
    assert "Уполномоченный орган по оценке и контролю за качеством оказания государственных услуг" in text
    assert "Нарушение сроков оказания государственной услуги" in text
    assert "Приложений нет" in text
    assert "22 ноября 2026" in text and format_date(TODAY, format="long", locale="ru") in text
    assert "__________ (Иванова О.)" in text
    assert "не указано" in text  # decision date and officials not given


def test_legal_entity_in_russian(ru):
    c = legal_entity_ru()
    text = _render(c, ru, "ru")
    _assert_values_present(text, c)
    assert "Жалоба" in text.split("\n")
    for label in ("Наименование организации", "БИН: 940140000385", "Исходящее письмо: № 15-2/301 от 18.11.2026",
                  "Представитель: Директор Серікбаев Нұрлан Асқарұлы", "Аким соответствующей административно-территориальной единицы",
                  "Истребование документов, не предусмотренных стандартом государственной услуги"):
        assert label in text, label
    assert "1. письмо_отказ.pdf (документ)" in text.split("\n")
    assert "Директор __________ (Серікбаев Н.А.)" in text
    assert "ИИН" not in text and "Фамилия, имя, отчество" not in text


def test_legal_entity_in_kazakh(kk):
    c = legal_entity_ru()
    c.language = "kk"
    text = _render(c, kk, "kk")
    _assert_values_present(text, c)
    assert "БСН: 940140000385" in text
    assert "18.11.2026 № 15-2/301" in text
    assert "Ұйымның атауы" in text


def test_document_is_in_times_new_roman_and_tagged_with_language(kk):
    from docx import Document

    data = render_docx(individual_kk(), number=NUMBER, gettext=kk.gettext, lang="kk", today=TODAY)
    doc = Document(io.BytesIO(data))
    assert doc.styles["Normal"].font.name == "Times New Roman"
    assert doc.core_properties.language == "kk"


def test_untranslated_fallback_renders_english():
    text = document_text(render_docx(individual_ru(), number=NUMBER, gettext=lambda s: s, lang="ru", today=TODAY))
    assert "Complaint" in text and "no IIN" in text


def test_document_filename():
    assert document_filename(NUMBER, "kk") == "SH-2026-000123_shagym.docx"
    assert document_filename(NUMBER, "ru") == "SH-2026-000123_zhaloba.docx"
    assert document_filename("SH/2026 1", "en").endswith(".docx")
    assert "/" not in document_filename("SH/2026 1", "en")


# ------------------------------------------------------------------------------------------- PDF

def _render_pdf(c: Complaint, t: Translations, lang: str) -> str:
    return pdf_text(render_pdf(c, number=NUMBER, gettext=t.gettext, lang=lang, today=TODAY))


def _assert_values_in_pdf(text: str, c: Complaint) -> None:
    """Every value entered, as in the DOCX check, but compared after NFC and whitespace folding."""
    for name in (
        "recipient_name", "surname", "first_name", "patronymic", "iin", "org_name", "bin", "outgoing_number",
        "representative_name", "representative_position", "postal_address", "actual_address", "phone", "email",
        "service_name", "organisation", "officials", "grounds_other_text", "description", "demands",
    ):
        value = getattr(c, name)
        if value:
            assert _fold(value) in text, f"{name}={value!r} missing"
    for name in ("outgoing_date", "decision_date", "learned_date"):
        value = getattr(c, name)
        if value:
            assert value.strftime("%d.%m.%Y") in text, name
    for att in c.attachments:
        assert _fold(att.name) in text


def test_pdf_individual_in_kazakh(kk):
    c = individual_kk()
    text = _render_pdf(c, kk, "kk")
    _assert_values_in_pdf(text, c)
    assert "Шағым" in text and f"№ {NUMBER}" in text
    for label in ("Кімге", "Кімнен", "Тегі, аты, әкесінің аты", "ЖСН: 061211600012", "Қосымшалар", "Қолы", "ЭЦҚ"):
        assert label in text, label
    # Kazakh letters survive the round trip, capitals and small
    assert "Әлиханқызы Айгерім Бекқызы" in text
    assert "ғ, қ, ң, ө, ұ, ү, һ, і" in text
    assert "Ғалымов Қ.Ө." in text
    assert "1. талон_өтініш.jpg (фотосурет)" in text
    assert "__________ (Әлиханқызы А.Б.)" in text
    assert "қараша" in text
    assert "Shagym" in text  # the footer
    for english in ("Complaint", "Signature", "Attachments", "To whom", "Surname"):
        assert english not in text


def test_pdf_individual_in_russian(ru):
    c = individual_ru()
    text = _render_pdf(c, ru, "ru")
    _assert_values_in_pdf(text, c)
    assert "Жалоба" in text and "Шағым" not in text
    assert "ИИН: ИИН отсутствует" in text and "Приложений нет" in text
    assert "22 ноября 2026" in text
    assert "__________ (Иванова О.)" in text


def test_pdf_legal_entity(ru):
    c = legal_entity_ru()
    text = _render_pdf(c, ru, "ru")
    _assert_values_in_pdf(text, c)
    assert "ТОО «Жетісу Құрылыс»" in text and "Серікбаев Нұрлан Асқарұлы" in text
    assert "БИН: 940140000385" in text
    assert "Директор __________ (Серікбаев Н.А.)" in text


def test_pdf_embeds_one_font_and_is_tagged_with_language(kk):
    from pypdf import PdfReader

    data = render_pdf(individual_kk(), number=NUMBER, gettext=kk.gettext, lang="kk", today=TODAY)
    reader = PdfReader(io.BytesIO(data))
    assert reader.metadata.title == f"Шағым {NUMBER}"
    assert reader.trailer["/Root"].get("/Lang") == "kk"
    fonts = {str(f["/BaseFont"]) for page in reader.pages for f in page["/Resources"]["/Font"].values()}
    assert fonts and all("PTSerif" in f for f in fonts), fonts


def test_pdf_filename():
    assert document_filename(NUMBER, "kk", "pdf") == "SH-2026-000123_shagym.pdf"
    assert document_filename(NUMBER, "ru", "pdf") == "SH-2026-000123_zhaloba.pdf"
