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

from bot.domain.complaint import Attachment, Complaint, grounds_label, recipient_label
from bot.domain.documents import addressee_dative, document_filename, document_text, render_docx, render_pdf

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
        id_doc_type="foreign_passport",
        id_doc_number="FA 1234567",
        id_doc_issued=date(2019, 5, 20),
        id_doc_issuer="МВД Республики Узбекистан",
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
    data = render_docx(c, number=NUMBER, gettext=t.gettext, lang=lang)
    assert data[:2] == b"PK" and zipfile.is_zipfile(io.BytesIO(data))
    return document_text(data)


def _assert_values_present(text: str, c: Complaint) -> None:
    for name in (
        "recipient_name", "surname", "first_name", "patronymic", "iin", "org_name", "bin", "outgoing_number",
        "representative_name", "representative_position", "postal_address", "actual_address", "phone", "email",
        "service_name", "organisation", "officials", "grounds_other_text", "id_doc_number", "id_doc_issuer",
    ):
        value = getattr(c, name)
        if value and name == "recipient_name":
            value = value.split(" ", 1)[1] if c.language == "ru" else value.rsplit(" ", 1)[0]  # put in the dative
        if value:
            assert value in text, f"{name}={value!r} missing"
    for name in ("outgoing_date", "decision_date", "learned_date", "id_doc_issued"):
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
    assert lines[-1] == NUMBER and f"№ {NUMBER}" not in text  # a small footer reference, not in the heading
    # the addressee alone, first, in the dative; no generic "to whom"/"head of the provider" label above it
    assert lines[0] == "«Азаматтарға арналған үкімет» МК Алматы қалалық филиалына"
    assert recipient_label("provider", kk.gettext) == "Көрсетілетін қызметті беруші басшысы"
    assert "Көрсетілетін қызметті беруші басшысы" not in text and "Кімге" not in text and "Кімнен" not in text
    for label in ("Өтініш беруші: Әлиханқызы Айгерім Бекқызы", "ЖСН: 061211600012", "Пошталық мекенжайы",
                  "Нақты мекенжайы", "Электрондық пошта", "Қосымшалар", "Қолы", "Шағым берілген күн"):
        assert label in text, label
    for product in ("Shagym", "eOtinish", "кеңес емес"):  # no product footer or disclaimer
        assert product not in text, product
    assert grounds_label("other", kk.gettext) in text
    # Kazakh letters survive the round trip
    assert "Әлиханқызы Айгерім Бекқызы" in text
    assert "ғ, қ, ң, ө, ұ, ү, һ, і" in text
    # numbered attachments with translated kinds
    assert "1. талон_өтініш.jpg (фотосурет)" in lines
    assert "2. анықтама.pdf (құжат)" in lines
    # the date of filing left blank to fill in by hand, and the signature line
    assert "Шағым берілген күн: 20__ ж. «___» ____________" in lines
    assert format_date(TODAY, format="long", locale="kk") not in text
    assert "Қолы: __________ (Әлиханқызы А.Б.)" in lines
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
    # no IIN: the identity document instead (docs/legal.md, 'What a complaint contains')
    assert "ИИН" not in text
    for label in ("Документ, удостоверяющий личность: Паспорт иностранного гражданина", "Номер документа: FA 1234567",
                  "Дата выдачи: 20.05.2019", "Кем выдан: МВД Республики Узбекистан"):
        assert label in lines, label
    assert lines[0] == "Департаменту Агентства по делам государственной службы по г. Алматы"
    for label in ("Заявитель: Иванова Ольга", "Почтовый адрес", "Государственная услуга",
                  "Услугодатель", "Основание жалобы", "На основании изложенного прошу:", "Приложения", "Подпись",
                  "Дата подачи жалобы"):
        assert label in text, label
    assert "Обжалую решение, действие (бездействие) услугодателя при оказании государственной услуги." in lines
    for gone in ("Кому", "От кого", "ЭЦП", "консультац", "Shagym"):
        assert gone not in text, gone
    assert "Фактический адрес" not in text  # actual address only if different
    assert "Электронная почта" not in text  # no e-mail given
    assert "Уполномоченный орган по оценке и контролю за качеством оказания государственных услуг" not in text
    assert "Нарушение сроков оказания государственной услуги" in text
    assert "Приложений нет" in text
    assert "Дата подачи жалобы: «___» ____________ 20__ г." in lines
    assert "22 ноября 2026" not in text and "г.." not in text
    assert "Подпись: __________ (Иванова О.)" in lines
    assert "не указано" in text  # decision date and officials not given


def test_legal_entity_in_russian(ru):
    c = legal_entity_ru()
    text = _render(c, ru, "ru")
    _assert_values_present(text, c)
    assert "Жалоба" in text.split("\n")
    lines = text.split("\n")
    assert lines[0] == "Акиму Осакаровского района"
    # the company, its outgoing number and date right under its name (as on its letterhead), its BIN
    i = lines.index("Заявитель: ТОО «Жетісу Құрылыс»")
    assert lines[i + 1] == "Исх. № 15-2/301 от 18.11.2026" and lines[i + 2] == "БИН: 940140000385"
    assert "Истребование документов, не предусмотренных стандартом государственной услуги" in text
    assert "Аким соответствующей административно-территориальной единицы" not in text
    assert "1. письмо_отказ.pdf (документ)" in lines
    # the signatory (not a "representative"): position and name, then the signature line
    assert lines[-3:] == ["Подписант: Директор Серікбаев Нұрлан Асқарұлы", "Подпись: __________ (Серікбаев Н.А.)",
                          NUMBER]
    assert "Представитель" not in text
    assert "ИИН" not in text and "Фамилия, имя, отчество" not in text


def test_legal_entity_in_kazakh(kk):
    c = legal_entity_ru()
    c.language = "kk"
    text = _render(c, kk, "kk")
    _assert_values_present(text, c)
    assert "БСН: 940140000385" in text
    assert "18.11.2026 № 15-2/301" in text
    assert "Өтініш беруші: ТОО «Жетісу Құрылыс»" in text
    assert text.split("\n")[0] == "Аким Осакаровского района"  # Russian words in a kk document: kept as typed
    assert "Қол қоюшы: Директор Серікбаев Нұрлан Асқарұлы" in text


def test_document_is_in_times_new_roman_and_tagged_with_language(kk):
    from docx import Document

    data = render_docx(individual_kk(), number=NUMBER, gettext=kk.gettext, lang="kk")
    doc = Document(io.BytesIO(data))
    assert doc.styles["Normal"].font.name == "Times New Roman"
    assert doc.core_properties.language == "kk-KZ"
    # w:lang, so word processors spell-check the text as Kazakh (the defaults and the Normal style)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        styles = z.read("word/styles.xml").decode()
    assert styles.count('w:lang w:val="kk-KZ"') >= 2
    ru_data = render_docx(individual_ru(), number=NUMBER, gettext=lambda s: s, lang="ru")
    with zipfile.ZipFile(io.BytesIO(ru_data)) as z:
        assert 'w:lang w:val="ru-RU"' in z.read("word/styles.xml").decode()


def test_untranslated_fallback_renders_english():
    text = document_text(render_docx(individual_ru(), number=NUMBER, gettext=lambda s: s, lang="ru"))
    assert "Complaint" in text and "Identity document: Passport of a foreign citizen" in text


def test_document_filename():
    assert document_filename(NUMBER, "kk") == "SH-2026-000123_shagym.docx"
    assert document_filename(NUMBER, "ru") == "SH-2026-000123_zhaloba.docx"
    assert document_filename("SH/2026 1", "en").endswith(".docx")
    assert "/" not in document_filename("SH/2026 1", "en")


# ------------------------------------------------------------------------------------------- PDF

def _render_pdf(c: Complaint, t: Translations, lang: str) -> str:
    return pdf_text(render_pdf(c, number=NUMBER, gettext=t.gettext, lang=lang))


def _assert_values_in_pdf(text: str, c: Complaint) -> None:
    """Every value entered, as in the DOCX check, but compared after NFC and whitespace folding."""
    for name in (
        "recipient_name", "surname", "first_name", "patronymic", "iin", "org_name", "bin", "outgoing_number",
        "representative_name", "representative_position", "postal_address", "actual_address", "phone", "email",
        "service_name", "organisation", "officials", "grounds_other_text", "description", "demands",
        "id_doc_number", "id_doc_issuer",
    ):
        value = getattr(c, name)
        if value and name == "recipient_name":
            value = value.split(" ", 1)[1] if c.language == "ru" else value.rsplit(" ", 1)[0]  # put in the dative
        if value:
            assert _fold(value) in text, f"{name}={value!r} missing"
    for name in ("outgoing_date", "decision_date", "learned_date", "id_doc_issued"):
        value = getattr(c, name)
        if value:
            assert value.strftime("%d.%m.%Y") in text, name
    for att in c.attachments:
        assert _fold(att.name) in text


def test_pdf_individual_in_kazakh(kk):
    c = individual_kk()
    text = _render_pdf(c, kk, "kk")
    _assert_values_in_pdf(text, c)
    assert "Шағым" in text and f"№ {NUMBER}" not in text and NUMBER in text
    for label in ("Өтініш беруші", "ЖСН: 061211600012", "Қосымшалар", "Қолы"):
        assert label in text, label
    for gone in ("Кімге", "Кімнен", "ЭЦҚ", "Shagym"):
        assert gone not in text, gone
    # Kazakh letters survive the round trip, capitals and small
    assert "Әлиханқызы Айгерім Бекқызы" in text
    assert "ғ, қ, ң, ө, ұ, ү, һ, і" in text
    assert "Ғалымов Қ.Ө." in text
    assert "1. талон_өтініш.jpg (фотосурет)" in text
    assert "__________ (Әлиханқызы А.Б.)" in text
    assert "20__ ж. «___» ____________" in text and _fold(format_date(TODAY, format="long", locale="kk")) not in text
    for english in ("Complaint", "Signature", "Attachments", "To whom", "Surname"):
        assert english not in text


def test_pdf_individual_in_russian(ru):
    c = individual_ru()
    text = _render_pdf(c, ru, "ru")
    _assert_values_in_pdf(text, c)
    assert "Жалоба" in text and "Шағым" not in text
    assert "ИИН" not in text and "Приложений нет" in text
    assert "Паспорт иностранного гражданина" in text and "Кем выдан: МВД Республики Узбекистан" in text
    assert "«___» ____________ 20__ г." in text and "22 ноября 2026" not in text
    assert "__________ (Иванова О.)" in text


def test_pdf_legal_entity(ru):
    c = legal_entity_ru()
    text = _render_pdf(c, ru, "ru")
    _assert_values_in_pdf(text, c)
    assert "ТОО «Жетісу Құрылыс»" in text and "Серікбаев Нұрлан Асқарұлы" in text
    assert "БИН: 940140000385" in text
    assert "Подписант: Директор Серікбаев Нұрлан Асқарұлы Подпись: __________ (Серікбаев Н.А.)" in text


def test_pdf_embeds_one_font_and_is_tagged_with_language(kk):
    from pypdf import PdfReader

    data = render_pdf(individual_kk(), number=NUMBER, gettext=kk.gettext, lang="kk")
    reader = PdfReader(io.BytesIO(data))
    assert reader.metadata.title == f"Шағым {NUMBER}"
    assert reader.trailer["/Root"].get("/Lang") == "kk-KZ"
    fonts = {str(f["/BaseFont"]) for page in reader.pages for f in page["/Resources"]["/Font"].values()}
    assert fonts and all("PTSerif" in f for f in fonts), fonts


def test_pdf_filename():
    assert document_filename(NUMBER, "kk", "pdf") == "SH-2026-000123_shagym.pdf"
    assert document_filename(NUMBER, "ru", "pdf") == "SH-2026-000123_zhaloba.pdf"


# ------------------------------------------------------------------- the page (docs/legal.md, 'The printed complaint')

A4_PT = (595.28, 841.89)


@pytest.mark.parametrize(
    ("name", "lang", "dative"),
    [
        ("Аким Осакаровского района", "ru", "Акиму Осакаровского района"),
        ("руководитель ЦОН № 3 г. Алматы", "ru", "руководителю ЦОН № 3 г. Алматы"),
        ("Департамент Агентства по делам госслужбы по ВКО", "ru", "Департаменту Агентства по делам госслужбы по ВКО"),
        ("Руководителю ЦОН Алматинского района г. Астаны", "ru", "Руководителю ЦОН Алматинского района г. Астаны"),
        ("Өскемен қаласы ХҚКО басшысы", "kk", "Өскемен қаласы ХҚКО басшысына"),
        ("Алматы қаласының әкімі", "kk", "Алматы қаласының әкіміне"),
        ("Агенттіктің Астана қаласы бойынша департаменті", "kk", "Агенттіктің Астана қаласы бойынша департаментіне"),
        ("Өскемен қаласы ХҚКО басшысына", "kk", "Өскемен қаласы ХҚКО басшысына"),
        ("Алматы", "kk", "Алматы"),
    ],
)
def test_addressee_in_the_dative(name, lang, dative):
    assert addressee_dative(name, lang) == dative


def _long_complaint(description_lines: int) -> Complaint:
    c = individual_ru()
    c.description = "\n".join(
        f"{i}. Я обращался в ЦОН по поводу справки, но мне каждый раз называли новый срок и просили прийти позже."
        for i in range(1, description_lines + 1))
    c.demands = "Выдать справку.\nПроверить действия сотрудников.\nПОСЛЕДНИЙ АБЗАЦ ТРЕБОВАНИЙ."
    c.attachments = [Attachment("a", "талон.jpg", "photo"), Attachment("b", "ответ.pdf", "document")]
    return c


def test_docx_is_a4_and_keeps_the_end_of_the_text_with_the_date_and_signature(ru):
    from docx import Document

    doc = Document(io.BytesIO(render_docx(_long_complaint(40), number=NUMBER, gettext=ru.gettext, lang="ru")))
    section = doc.sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    assert [round(m.cm, 1) for m in (section.left_margin, section.right_margin, section.top_margin,
                                     section.bottom_margin)] == [2.0, 2.0, 2.0, 2.0]
    paras = doc.paragraphs
    first = next(i for i, p in enumerate(paras) if p.text == "На основании изложенного прошу:")
    assert paras[-1].text.startswith("Подпись:")
    kept = paras[first:]
    assert "ПОСЛЕДНИЙ АБЗАЦ ТРЕБОВАНИЙ." in [p.text for p in kept]
    assert all(p.paragraph_format.keep_with_next for p in kept[:-1])  # none can be left behind on its page
    assert all(p.paragraph_format.keep_together for p in kept)
    assert not paras[first - 1].paragraph_format.keep_with_next  # the text above flows freely
    heading = next(p for p in paras if p.text == "Обстоятельства и мотивы обращения")
    assert heading.paragraph_format.keep_with_next  # a heading is never the last line of a page
    assert paras[0].text == "Департаменту Агентства по делам государственной службы по г. Алматы"


def _pdf_pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    for page in reader.pages:
        assert (round(float(page.mediabox.width), 2), round(float(page.mediabox.height), 2)) == A4_PT
    return [_fold(page.extract_text()) for page in reader.pages]


def test_pdf_signature_never_alone_on_a_page(ru):
    """Long complaints of every length around a page break: the last paragraph of the text, the attachments,
    the blank date and the signature always share a page (without the rule some of these leave the date and
    the signature alone on the last page)."""
    moved = 0
    for n in range(18, 34):
        pages = _pdf_pages(render_pdf(_long_complaint(n), number=NUMBER, gettext=ru.gettext, lang="ru"))
        last_text = next(i for i, p in enumerate(pages) if "ПОСЛЕДНИЙ АБЗАЦ ТРЕБОВАНИЙ." in p)
        signature = next(i for i, p in enumerate(pages) if "Подпись: __________ (Иванова О.)" in p)
        date_line = next(i for i, p in enumerate(pages) if "«___» ____________ 20__ г." in p)
        assert last_text == signature == date_line == len(pages) - 1, (n, pages[-1][:200])
        assert "Приложения" in pages[signature] and "На основании изложенного прошу:" in pages[signature]
        moved += len(pages) > 1 and "Выдать справку." not in pages[signature - 1]
    assert moved  # some lengths did need the move


def test_pdf_addressee_first_and_blank_date(kk):
    pages = _pdf_pages(render_pdf(individual_kk(), number=NUMBER, gettext=kk.gettext, lang="kk"))
    assert pages[0].startswith("«Азаматтарға арналған үкімет» МК Алматы қалалық филиалына")
    assert "Шағым берілген күн: 20__ ж. «___» ____________" in pages[-1]
    assert pages[-1].rstrip().endswith(NUMBER)  # the footer reference
