"""The complaint domain: parsers, validators, the field registry, serialisation, numbers and limits."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import date

import pytest

from bot.domain.complaint import (
    APPLICANT_KINDS,
    FIELDS,
    GROUNDS,
    PACKED_V1,
    RECIPIENT_KINDS,
    Attachment,
    Complaint,
    FieldSpec,
    add_months,
    clean_name,
    clean_text,
    complaint_number,
    fields_for,
    filing_limit_date,
    filing_limit_passed,
    grounds_label,
    missing_required,
    parse_date,
    parse_email,
    parse_field,
    parse_phone,
    recipient_label,
    unpack_fields,
)

TODAY = date(2026, 11, 22)


# ------------------------------------------------------------------------------------------ dates

@pytest.mark.parametrize(
    "text, expected",
    [
        ("05.03.2025", date(2025, 3, 5)),
        ("5.3.2025", date(2025, 3, 5)),
        ("05.03.25", date(2025, 3, 5)),
        ("05/03/2025", date(2025, 3, 5)),
        ("05-03-2025", date(2025, 3, 5)),
        ("2025-03-05", date(2025, 3, 5)),
        ("  05 . 03 . 2025  ", date(2025, 3, 5)),
        ("05 03 2025", date(2025, 3, 5)),
        ("2025 - 03 - 05", date(2025, 3, 5)),
        ("05.03.2025г.", date(2025, 3, 5)),
        ("05.03.2025 ж.", date(2025, 3, 5)),
        ("22.11.2026", TODAY),
        ("29.02.2024", date(2024, 2, 29)),
        ("22.11.2016", date(2016, 11, 22)),  # exactly 10 years: still fine
    ],
)
def test_parse_date_accepts(text, expected):
    res = parse_date(text, TODAY)
    assert res.ok, res
    assert res.value == expected
    assert res.error_key is None


@pytest.mark.parametrize(
    "text", ["", "   ", "tomorrow", "31.02.2025", "32.01.2025", "05.13.2025", "5.3", "05.03.2025.1", "05.03/2025", "2025/3"]
)
def test_parse_date_format_errors(text):
    res = parse_date(text, TODAY)
    assert not res.ok
    assert res.error_key == "date_format"
    assert res.value is None


def test_parse_date_future_and_old():
    assert parse_date("23.11.2026", TODAY).error_key == "date_in_future"
    assert parse_date("23.11.2026", TODAY, allow_future=True).value == date(2026, 11, 23)
    old = parse_date("21.11.2016", TODAY)
    assert old.error_key == "date_too_old" and old.params == {"years": 10}
    assert parse_date("01.01.1990", TODAY).error_key == "date_too_old"


def test_two_digit_year_never_jumps_into_the_future():
    # 20yy when that is not in the future, else 19yy (which is then too old)
    assert parse_date("01.01.26", TODAY).value == date(2026, 1, 1)
    assert parse_date("01.12.26", TODAY).error_key == "date_too_old"  # 1926


# ------------------------------------------------------------------------------------------ phone

@pytest.mark.parametrize(
    "text",
    [
        "+7 701 123 45 67",
        "+77011234567",
        "8 701 123 45 67",
        "87011234567",
        "77011234567",
        "701 123 45 67",
        "7011234567",
        "+7 (701) 123-45-67",
        "8(701)123-45-67",
        " 8 701 123 4567 ",
    ],
)
def test_parse_phone_normalises_kazakh_numbers(text):
    res = parse_phone(text)
    assert res.ok, res
    assert res.value == "+77011234567"


def test_parse_phone_landline():
    assert parse_phone("8 (7172) 55-44-33").value == "+77172554433"


@pytest.mark.parametrize(
    "text", ["", "123", "+7 901 123 45 67", "8 901 123 45 67", "+1 701 123 45 67", "+7 701 123 45 6", "701-abc-45-67", "++77011234567", "+7 701 123 45 678"]
)
def test_parse_phone_rejects(text):
    res = parse_phone(text)
    assert not res.ok and res.error_key == "phone_format"


# ------------------------------------------------------------------------------------------ e-mail

def test_parse_email():
    assert parse_email("  Aigerim.A@Mail.KZ ").value == "Aigerim.A@mail.kz"
    assert parse_email("a+b@gov.kz").ok
    for bad in ("", "aigerim", "a@b", "a@@b.kz", "a b@c.kz", ".a@b.kz", "a..b@c.kz", "a@-b.kz", "айгерім@mail.kz"):
        res = parse_email(bad)
        assert not res.ok and res.error_key == "email_format", bad


# ------------------------------------------------------------------------------------------ text and names

def test_clean_text_collapses_whitespace():
    res = clean_text("  ХҚКО   №3 \n  Алматы\t", 100)
    assert res.ok and res.value == "ХҚКО №3 Алматы"


def test_clean_text_multiline_keeps_paragraphs():
    res = clean_text("  Бірінші   жол\n\n\n\n  екінші  жол  ", 100, multiline=True)
    assert res.value == "Бірінші жол\n\nекінші жол"


def test_clean_text_drops_control_and_format_characters():
    # zero-width space (Cf), NUL and DEL (Cc), a private-use char (Co); the no-break space (Zs) is whitespace
    res = clean_text("а\u200bб\x00в\x7f\ue000г\u00a0д\nе\tж", 100, multiline=True)
    assert res.value == "абвг д\nе ж"
    assert clean_text("\u200b\u200e", 10).error_key == "empty"
    # the fast path (nothing to drop) gives what the per-character pass gives
    assert clean_text("Жауап\u00a0жоқ.\n\nОтвета нет", 100, multiline=True).value == "Жауап жоқ.\n\nОтвета нет"


def test_clean_text_empty_and_too_long():
    assert clean_text(" \n\t ", 10).error_key == "empty"
    assert clean_text(None, 10).error_key == "empty"
    res = clean_text("x" * 11, 10)
    assert res.error_key == "too_long" and res.params["limit"] == 10 and res.params["length"] == 11
    assert clean_text("x" * 10, 10).ok


@pytest.mark.parametrize(
    "name",
    ["Әлиханқызы", "Ғалым", "Қуаныш", "Ңң", "Өмірзақ", "Ұлан", "Үміт", "Һ", "Ілияс", "Иванов-Петров", "O'Connor", "Smith", "Нұр Ислам"],
)
def test_clean_name_accepts_kazakh_russian_latin(name):
    res = clean_name(name)
    assert res.ok, name
    assert res.value == name


def test_clean_name_normalises_apostrophes_and_spaces():
    assert clean_name("  O’Connor  ").value == "O'Connor"
    assert clean_name("Нұр   Ислам").value == "Нұр Ислам"


@pytest.mark.parametrize("name", ["Иван1", "Иван!", "Ivan_", "Ivan.", "Αλέξης", "---", "Иван😀"])
def test_clean_name_rejects_other_characters(name):
    assert clean_name(name).error_key == "name_chars"


# ------------------------------------------------------------------------------------------ registry

def test_registry_shape():
    names = [f.name for f in FIELDS]
    assert len(names) == len(set(names))
    for spec in FIELDS:
        assert isinstance(spec, FieldSpec)
        assert spec.applies_to in {"individual", "legal_entity", "both"}
        assert spec.kind in {"text", "date", "iin", "bin", "phone", "email", "choice"}
        assert hasattr(Complaint(), spec.name)
        if spec.kind == "choice":
            assert spec.choices
    assert FIELDS[0].name == "grounds"


def test_fields_for_each_applicant_kind():
    ind = [f.name for f in fields_for("individual")]
    le = [f.name for f in fields_for("legal_entity")]
    assert {"surname", "first_name", "patronymic", "iin"} <= set(ind)
    assert not {"org_name", "bin", "outgoing_number", "outgoing_date", "representative_name"} & set(ind)
    assert {"org_name", "bin", "outgoing_number", "outgoing_date", "representative_name", "representative_position"} <= set(le)
    assert not {"surname", "first_name", "iin"} & set(le)
    for common in ("postal_address", "actual_address", "phone", "email", "service_name", "description", "demands"):
        assert common in ind and common in le


def _individual(**kw) -> Complaint:
    base = dict(
        grounds="deadline_violated",
        recipient_kind="provider",
        recipient_name="ХҚКО басшысы",
        applicant_kind="individual",
        surname="Әлиханқызы",
        first_name="Айгерім",
        iin="061211600012",
        postal_address="Алматы қ., Абай даңғ. 10",
        service_name="Мекенжай анықтамасы",
        organisation="ХҚКО №3",
        learned_date=date(2026, 11, 3),
        description="Мерзім өтті.",
        demands="Қызметті көрсетуді сұраймын.",
    )
    base.update(kw)
    return Complaint(**base)


ID_DOC = dict(id_doc_type="foreign_passport", id_doc_number="N 1234567", id_doc_issued=date(2019, 5, 20),
              id_doc_issuer="Ministry of Internal Affairs of Uzbekistan")


def _legal_entity(**kw) -> Complaint:
    base = dict(
        grounds="unjustified_refusal",
        recipient_kind="quality_authority",
        recipient_name="Агентство по делам госслужбы, департамент по г. Астане",
        applicant_kind="legal_entity",
        org_name="ТОО «Жетісу Құрылыс»",
        bin="940140000385",
        outgoing_number="15-2/301",
        outgoing_date=date(2026, 11, 18),
        representative_name="Серікбаев Нұрлан Асқарұлы",
        representative_position="Директор",
        postal_address="Астана, ул. Кенесары 1",
        service_name="Выдача лицензии",
        organisation="Управление предпринимательства",
        learned_date=date(2026, 11, 10),
        description="Отказали без оснований.",
        demands="Отменить отказ.",
    )
    base.update(kw)
    return Complaint(**base)


def test_missing_required_empty_drafts():
    assert missing_required(Complaint()) == [
        "grounds", "service_name", "organisation", "learned_date", "description", "demands",
        "recipient_kind", "recipient_name", "applicant_kind", "postal_address",
    ]
    ind = missing_required(Complaint(applicant_kind="individual"))
    assert {"surname", "first_name", "iin", "postal_address"} <= set(ind)
    assert "patronymic" not in ind and "phone" not in ind and "email" not in ind and "actual_address" not in ind
    assert "org_name" not in ind
    le = missing_required(Complaint(applicant_kind="legal_entity"))
    assert {"org_name", "bin", "outgoing_number", "outgoing_date", "representative_name", "representative_position", "postal_address"} <= set(le)
    assert "surname" not in le and "iin" not in le


def test_missing_required_complete():
    assert missing_required(_individual()) == []
    assert missing_required(_legal_entity()) == []


def test_missing_required_conditional_rules():
    # "no IIN" satisfies the IIN field
    assert missing_required(_individual(iin=None)) == ["iin"]
    # no IIN: the identity document's type, number, date of issue and issuer take its place
    # (docs/legal.md, 'What a complaint contains')
    assert missing_required(_individual(iin=None, no_iin=True)) == [
        "id_doc_type", "id_doc_number", "id_doc_issued", "id_doc_issuer"]
    assert missing_required(_individual(iin=None, no_iin=True, **ID_DOC)) == []
    assert missing_required(_individual(iin=None, no_iin=True, **{**ID_DOC, "id_doc_issuer": " "})) == [
        "id_doc_issuer"]
    assert missing_required(_individual(**ID_DOC)) == []  # with an IIN the document is not asked
    # "other" needs its text
    assert missing_required(_individual(grounds="other")) == ["grounds_other_text"]
    assert missing_required(_individual(grounds="other", grounds_other_text="Кезек")) == []
    # blank strings count as missing
    assert missing_required(_individual(surname="   ")) == ["surname"]
    assert missing_required(_legal_entity(bin="", outgoing_date=None)) == ["bin", "outgoing_date"]


# ------------------------------------------------------------------------------------------ serialisation

def test_round_trip_through_json():
    c = _individual(
        patronymic="Бекқызы",
        actual_address="Алматы, Сәтпаев 5",
        phone="+77011234567",
        email="a@mail.kz",
        decision_date=date(2026, 11, 1),
        officials="бас маман Қ. Ғалымов",
        attachments=[Attachment("AgAD1", "талон.jpg", "photo"), Attachment("BQAD2", "өтініш.pdf", "document")],
        language="kk",
        consent=True,
        created=date(2026, 11, 20),
        filed=TODAY,
    )
    data = c.to_dict()
    text = json.dumps(data, ensure_ascii=False)  # must be JSON-serialisable as is
    back = Complaint.from_dict(json.loads(text))
    assert back == c
    assert back.attachments[0] == Attachment("AgAD1", "талон.jpg", "photo")
    assert data["decision_date"] == "2026-11-01"
    le = _legal_entity(email="info@jk.kz")
    assert Complaint.from_dict(json.loads(json.dumps(le.to_dict()))) == le
    # every field, in the dataclass's order; nothing shared with the draft (the FSM keeps what it was given)
    assert list(data) == [f.name for f in dataclasses.fields(Complaint)]
    data["attachments"][0]["name"] = "changed"
    assert c.attachments[0].name == "талон.jpg"


def test_from_dict_tolerates_old_and_partial_drafts():
    c = Complaint.from_dict({"surname": "Әлиханқызы", "unknown_future_field": 1, "learned_date": "", "outgoing_date": "bad"})
    assert c.surname == "Әлиханқызы" and c.learned_date is None and c.outgoing_date is None
    assert c.attachments == [] and c.no_iin is False
    assert Complaint.from_dict(None) == Complaint()
    assert Complaint.from_dict({}) == Complaint()


def test_a_packed_complaint_keeps_no_empty_key_and_reads_back_whole():
    """The stored form (storage/complaints.py): compact JSON without None / False / [] keys, deflated with a
    preset dictionary; every field reads back, and it is much smaller than the JSON (2.3 KB -> ~0.9 KB on the
    generated complaints of tests/contract/test_compact_complaints.py)."""
    le = _legal_entity(email="info@jk.kz", attachments=[Attachment("BQAD2", "өтініш.pdf")], consent=True)
    for c in (le, Complaint(), Complaint(no_iin=True, id_doc_issued=date(2019, 5, 20), language="kk")):
        blob = c.pack()
        assert blob[0] == PACKED_V1 and Complaint.unpack(blob) == c
        stored = unpack_fields(blob)
        assert None not in stored.values() and False not in stored.values() and [] not in stored.values()
    assert len(le.pack()) < len(json.dumps(le.to_dict(), ensure_ascii=False).encode()) / 2
    assert unpack_fields(Complaint().pack()) == {"language": "ru"}
    for bad in (b"", b"{}", b"\x02" + le.pack()[1:]):
        with pytest.raises(ValueError):
            unpack_fields(bad)


#: A complaint packed in format 1 when it was introduced (migration 0012): rows on disk keep this form, so the
#: preset dictionary and the format may never change under it.
PACKED_IN_2026 = ("AXj5jHVOk4WTQQrCMBBFrxK6r0wSEDyLRxFBqq66EYQiiC5dV6VY0eYMP3oDT+KkiEks1FVgwgyfefMmiVf2C6GjabD4jrE4YI+d"
                  "eC0KoR2EX4EjHN7m5wY31HaJEs1ja3NcbO4AhZJjhSvOqOzMFri7VbcujogkSU386BZxdOSK1DAlnZLkv/jKseZJcxxhBIzNcOLRGWoX"
                  "ZOCih6c/7kEhPQvuL7nfoOHaXzA9ID6hVTJ9A6Bynog=")


def test_format_1_packed_rows_stay_readable():
    assert Complaint.unpack(base64.b64decode(PACKED_IN_2026)) == Complaint(
        grounds="ethics", recipient_kind="provider", recipient_name="ЦОН № 3", applicant_kind="individual",
        surname="Әлиханқызы", first_name="Айгерім", iin="900101300013", learned_date=date(2026, 3, 1),
        description="Грубо ответили.", attachments=[Attachment("AgACAgIAAxkBAAI1", "талон", "photo")], language="kk",
        consent=True, created=date(2026, 3, 2))


# ------------------------------------------------------------------------------------------ parse_field

def test_parse_field_dispatches_by_kind():
    assert parse_field("surname", "  Әлиханқызы ", TODAY).value == "Әлиханқызы"
    assert parse_field("surname", "Әлиханқызы2", TODAY).error_key == "name_chars"
    kept = "Отказали в приёме\n\nбез объяснения причин"  # line breaks are kept in multiline text
    assert parse_field("description", kept, TODAY).value == kept
    assert parse_field("learned_date", "03.11.2026", TODAY).value == date(2026, 11, 3)
    assert parse_field("phone", "8 701 123 45 67", TODAY).value == "+77011234567"
    assert parse_field("email", "x@y.kz", TODAY).ok
    assert parse_field("grounds", "ethics", TODAY).value == "ethics"
    assert parse_field("grounds", "court", TODAY).error_key == "choice_invalid"
    assert parse_field("recipient_kind", "court", TODAY).error_key == "choice_invalid"
    assert parse_field("service_name", "x" * 301, TODAY).params["limit"] == 300


def test_parse_field_identifiers_delegate_to_bot_identifiers():
    assert parse_field("iin", "0612 1160 0012", TODAY).value == "061211600012"
    bad = parse_field("iin", "061211600013", TODAY)
    assert bad.error_key == "iin_invalid" and bad.params["reason"]
    assert parse_field("bin", "940140000385", TODAY).value == "940140000385"
    assert parse_field("bin", "12345", TODAY).error_key == "bin_invalid"


# ------------------------------------------------------------------------------------------ ids and labels

def test_ids():
    assert GROUNDS == ("deadline_violated", "unjustified_refusal", "extra_documents", "ethics", "incomplete_service", "other")
    assert RECIPIENT_KINDS == ("provider", "quality_authority", "akim")
    assert APPLICANT_KINDS == ("individual", "legal_entity")


def test_labels_go_through_gettext():
    seen = []

    def fake(s):
        seen.append(s)
        return s.upper()

    for g in GROUNDS:
        assert grounds_label(g, fake) == seen[-1].upper()
    for r in RECIPIENT_KINDS + ("court",):
        assert recipient_label(r, fake) == seen[-1].upper()
    assert len(set(seen)) == len(GROUNDS) + len(RECIPIENT_KINDS) + 1
    assert grounds_label("nonsense", fake) == "nonsense"


# ------------------------------------------------------------------------------------------ limits and numbers

def test_add_months_clamps_to_month_end():
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 10, 15), 3) == date(2027, 1, 15)


def test_filing_limit():
    from bot.domain.complaint import filing_limit
    from bot.domain.workdays import default_calendar

    cal = default_calendar()
    assert filing_limit_date(date(2026, 8, 21), cal) == date(2026, 11, 23)  # Sat 21.11 -> Mon 23.11
    learned = date(2026, 8, 22)  # 3 months end on Sunday 22.11.2026: the limit moves to Monday 23.11
    assert filing_limit_date(learned, cal) == date(2026, 11, 23)
    assert not filing_limit_passed(learned, date(2026, 11, 23), cal)
    assert filing_limit_passed(learned, date(2026, 11, 24), cal)
    assert not filing_limit_passed(date(2026, 11, 30), date(2027, 3, 1), cal)  # Sun 28.02.2027 -> Mon 01.03
    assert filing_limit_passed(date(2026, 11, 30), date(2027, 3, 2), cal)
    # working days left, said plainly when 5 or fewer
    soon = filing_limit(date(2026, 8, 29), date(2026, 11, 24), cal)
    assert (soon.last_day, soon.days_left, soon.soon, soon.passed) == (date(2026, 11, 30), 4, True, False)
    assert filing_limit(date(2026, 8, 29), date(2026, 11, 30), cal).days_left == 0
    assert filing_limit(date(2026, 8, 29), date(2026, 11, 16), cal).soon is False  # 10 working days
    after = filing_limit(date(2026, 8, 27), date(2026, 11, 29), cal)  # last day Fri 27.11, today Sunday
    assert after.passed and not after.soon
    assert filing_limit(None, date(2026, 11, 29), cal) is None


def test_dates_must_agree_and_court_is_understood_typed():
    from bot.domain.complaint import check_dates, is_court_request

    draft = Complaint(decision_date=date(2026, 11, 10), learned_date=None)
    assert check_dates(draft, "learned_date", date(2026, 11, 9)).error_key == "learned_before_decision"
    assert check_dates(draft, "learned_date", date(2026, 11, 10)).ok
    draft.learned_date = date(2026, 11, 12)
    assert check_dates(draft, "decision_date", date(2026, 11, 13)).error_key == "decision_after_learned"
    assert check_dates(draft, "decision_date", date(2026, 11, 12)).ok
    for typed in ("в суд", "Суд!", "сотқа", "Сотқа беру", "court"):
        assert is_court_request(typed), typed
    for typed in ("сотрудник ЦОН", "судья", "", None, "аким"):
        assert not is_court_request(typed), typed


def test_free_text_needs_letters_and_a_sensible_length():
    for name, bad, key in (("postal_address", ".", "no_letters"), ("postal_address", "Алматы", "too_short"),
                           ("description", "плохо", "too_short"), ("demands", "1234567890", "no_letters"),
                           ("service_name", "--", "no_letters")):
        result = parse_field(name, bad, TODAY)
        assert result.error_key == key and result.params["field"] == name, (name, bad, result)
    assert parse_field("postal_address", "Астана, Абая 10", TODAY).ok
    assert parse_field("outgoing_number", "1", TODAY).ok  # a number may be just digits
    assert parse_field("description", "Отказали без причины", TODAY).ok


def test_complaint_number():
    assert complaint_number(123, date(2026, 11, 22)) == "SH-2026-000123"
    assert complaint_number(1, date(2027, 1, 1)) == "SH-2027-000001"
    assert complaint_number(1234567, date(2026, 1, 1)) == "SH-2026-1234567"
    with pytest.raises(ValueError):
        complaint_number(-1, date(2026, 1, 1))


def test_signature_name():
    assert _individual(patronymic="Бекқызы").signature_name() == "Әлиханқызы А.Б."
    assert _individual().signature_name() == "Әлиханқызы А."
    assert _legal_entity().signature_name() == "Серікбаев Н.А."


def test_identity_document_fields():
    from bot.domain.complaint import ID_DOC_FIELDS, ID_DOC_TYPES, id_doc_type_label

    assert ID_DOC_FIELDS == ("id_doc_type", "id_doc_number", "id_doc_issued", "id_doc_issuer")
    assert {"id_card", "passport", "foreign_passport", "residence_permit", "stateless_certificate"} <= set(ID_DOC_TYPES)
    assert parse_field("id_doc_type", "foreign_passport", TODAY).ok
    assert parse_field("id_doc_type", "driver_licence", TODAY).error_key == "choice_invalid"
    assert parse_field("id_doc_number", "  N  1234567 ", TODAY).value == "N 1234567"
    assert parse_field("id_doc_number", "x" * 31, TODAY).error_key == "too_long"
    # a document may be older than the 10 years allowed for the dates of the dispute
    issued = date(TODAY.year - 15, 3, 1)
    assert parse_field("id_doc_issued", issued.strftime("%d.%m.%Y"), TODAY).value == issued
    assert parse_field("id_doc_issued", "01.01.2999", TODAY).error_key == "date_in_future"
    assert id_doc_type_label("foreign_passport", lambda s: s) == "Passport of a foreign citizen"
    # round trip through the stored draft
    c = _individual(iin=None, no_iin=True, **ID_DOC)
    assert Complaint.from_dict(c.to_dict()) == c
