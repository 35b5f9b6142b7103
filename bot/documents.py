"""The printable complaint: a DOCX built with python-docx, in the complaint's language.

Pure code: takes a `Complaint`, a gettext callable for the document's language and today's date, and
returns bytes. Every human string goes through the gettext passed in (English msgids).
"""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Callable

from babel.dates import format_date
from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph

from bot.complaint import Complaint, attachment_kind_label, grounds_label, recipient_label

FONT_NAME = "Times New Roman"  # has Cyrillic incl. Kazakh letters in every common install
FONT_SIZE = Pt(12)
SIGNATURE_BLANK = "__________"

Gettext = Callable[[str], str]


def _date(d: date | None) -> str:
    return d.strftime("%d.%m.%Y") if d else ""


def _set_font(document) -> None:
    style = document.styles["Normal"]
    style.font.name = FONT_NAME
    style.font.size = FONT_SIZE
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), FONT_NAME)
    style.paragraph_format.space_after = Pt(4)


def _para(container, text: str = "", *, bold: bool = False, align=None, indent_cm: float | None = None, size=None):
    p = container.add_paragraph()
    if text:
        run = p.add_run(text)
        run.bold = bold
        if size is not None:
            run.font.size = size
    if align is not None:
        p.alignment = align
    if indent_cm is not None:
        p.paragraph_format.left_indent = Cm(indent_cm)
    return p


def _labelled(container, label: str, value: str, *, indent_cm: float | None = None) -> None:
    p = _para(container, indent_cm=indent_cm)
    p.add_run(f"{label}: ").bold = True
    p.add_run(value)


def _multiline(container, text: str) -> None:
    for chunk in (text or "").split("\n"):
        if chunk.strip():
            p = _para(container, chunk)
            p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            p.paragraph_format.first_line_indent = Cm(1.0)


def _applicant_lines(c: Complaint, _: Gettext) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    if c.is_legal_entity:
        lines.append((_("Organisation name"), c.org_name or ""))
        lines.append((_("BIN"), c.bin or ""))
        lines.append(
            (_("Outgoing letter"), _("No. {number} of {date}").format(number=c.outgoing_number or "", date=_date(c.outgoing_date)))
        )
    else:
        lines.append((_("Surname, first name, patronymic"), c.full_name()))
        lines.append((_("IIN"), c.iin if (c.iin and not c.no_iin) else _("no IIN")))
    lines.append((_("Postal address"), c.postal_address or ""))
    if c.actual_address:
        lines.append((_("Actual address"), c.actual_address))
    if c.is_legal_entity:
        position = c.representative_position or ""
        lines.append((_("Representative"), f"{position} {c.representative_name or ''}".strip()))
    if c.phone:
        lines.append((_("Phone"), c.phone))
    if c.email:
        lines.append((_("E-mail"), c.email))
    return lines


def render_docx(
    complaint: Complaint,
    *,
    number: str,
    gettext: Gettext,
    lang: str | None = None,
    today: date,
) -> bytes:
    """Render the complaint as DOCX bytes.

    `gettext` translates English msgids into the document's language (e.g. `Translations.gettext` of the
    complaint's language); `lang` ("kk" / "ru", default: complaint.language) is used for the long date of
    filing (Babel) and the document's language property; `today` is the date of filing printed.
    """
    _ = gettext
    c = complaint
    lang = lang or c.language or "ru"
    doc = Document()
    _set_font(doc)
    section = doc.sections[0]
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)
    doc.core_properties.language = lang
    title = _("Complaint")
    doc.core_properties.title = f"{title} {number}"
    doc.core_properties.author = c.full_name() if not c.is_legal_entity else (c.org_name or "")

    # -- header block: to whom / from whom (right half of the page)
    indent = 8.0
    _labelled(doc, _("To whom"), recipient_label(c.recipient_kind or "", _) if c.recipient_kind else "", indent_cm=indent)
    if c.recipient_name:
        _para(doc, c.recipient_name, indent_cm=indent)
    from_whom = _("From whom")
    _para(doc, f"{from_whom}:", bold=True, indent_cm=indent)
    for label, value in _applicant_lines(c, _):
        _labelled(doc, label, value, indent_cm=indent)

    # -- title
    _para(doc)
    _para(doc, _("Complaint"), bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, size=Pt(14))
    _para(doc, _("No. {number}").format(number=number), align=WD_ALIGN_PARAGRAPH.CENTER)
    intro = _para(doc, _("I appeal against a decision, action (inaction) in the provision of a public service."))
    intro.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY

    # -- the facts, as a two-column table
    not_specified = _("not specified")
    grounds = grounds_label(c.grounds or "", _) if c.grounds else not_specified
    if c.grounds == "other" and c.grounds_other_text:
        grounds = f"{grounds}: {c.grounds_other_text}"
    rows = [
        (_("Public service"), c.service_name or not_specified),
        (_("Service provider"), c.organisation or not_specified),
        (_("Date of the decision (action)"), _date(c.decision_date) or not_specified),
        (_("Date the applicant learned of it"), _date(c.learned_date) or not_specified),
        (_("Officials whose actions are appealed"), c.officials or not_specified),
        (_("Grounds for the complaint"), grounds),
    ]
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].width, cells[1].width = Cm(6), Cm(10.5)
        cells[0].paragraphs[0].add_run(label).bold = True
        lines = value.split("\n")
        cells[1].paragraphs[0].add_run(lines[0])
        for extra in lines[1:]:
            cells[1].add_paragraph(extra)

    # -- what happened, demands
    _para(doc)
    _para(doc, _("Circumstances and motives of the complaint"), bold=True)
    _multiline(doc, c.description or not_specified)
    _para(doc, _("On the basis of the above, I ask:"), bold=True)
    _multiline(doc, c.demands or not_specified)

    # -- attachments
    _para(doc, _("Attachments"), bold=True)
    if c.attachments:
        for i, att in enumerate(c.attachments, 1):
            _para(doc, f"{i}. {att.name} ({attachment_kind_label(att.kind, _)})", indent_cm=0.5)
    else:
        _para(doc, _("No attachments"), indent_cm=0.5)

    # -- date and signature
    _para(doc)
    _labelled(doc, _("Date of filing"), format_date(today, format="long", locale=lang))
    sig = _para(doc)
    signature = _("Signature")
    sig.add_run(f"{signature}: ").bold = True
    if c.is_legal_entity and c.representative_position:
        sig.add_run(f"{c.representative_position} ")
    sig.add_run(f"{SIGNATURE_BLANK} ({c.signature_name()})")
    note = _para(doc, _("When filed through eOtinish or the eGov portal, the complaint is signed with an electronic digital signature (EDS) or a one-time SMS code."), size=Pt(10))
    note.runs[0].italic = True

    # -- footer on every page
    footer = section.footer.paragraphs[0]
    footer.text = _("Prepared with Shagym; guidance, not legal advice.")
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for run in footer.runs:
        run.font.size = Pt(8)

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def document_filename(number: str, lang: str) -> str:
    """ASCII file name for Telegram: 'SH-2026-000123_shagym.docx' (kk) / 'SH-2026-000123_zhaloba.docx' (ru)."""
    safe = re.sub(r"[^A-Za-z0-9\-]+", "-", number or "").strip("-") or "complaint"
    word = {"kk": "shagym", "ru": "zhaloba"}.get(lang, "complaint")
    return f"{safe}_{word}.docx"


def document_text(docx_bytes: bytes) -> str:
    """Plain text of a DOCX: body paragraphs and table cells in order, then footers; one line per paragraph."""
    doc = Document(io.BytesIO(docx_bytes))
    lines: list[str] = []

    def walk(block) -> None:
        if isinstance(block, Paragraph):
            lines.append(block.text)
        elif isinstance(block, Table):
            for row in block.rows:
                seen: set[int] = set()
                for cell in row.cells:
                    if id(cell._tc) in seen:  # merged cells repeat
                        continue
                    seen.add(id(cell._tc))
                    for inner in cell.iter_inner_content():
                        walk(inner)

    for block in doc.iter_inner_content():
        walk(block)
    footers: list[str] = []
    for section in doc.sections:
        for p in section.footer.paragraphs:
            if p.text and p.text not in footers:
                footers.append(p.text)
    lines.extend(footers)
    return "\n".join(lines)
