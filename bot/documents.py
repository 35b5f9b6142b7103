"""The printable complaint, in the complaint's language: DOCX (python-docx) and PDF (fpdf2).

Pure code: takes a `Complaint`, a gettext callable for the document's language and today's date, and
returns bytes. Every human string goes through the gettext passed in (English msgids). The content is
laid out once as simple blocks (`layout`) and drawn by two small renderers (`render_docx`, `render_pdf`).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Callable, Union

import fontpkg_pt_serif
from babel.dates import format_date
from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph
from fpdf import FPDF, FontFace

from bot.complaint import Complaint, attachment_kind_label, grounds_label, recipient_label

FONT_NAME = "Times New Roman"  # has Cyrillic incl. Kazakh letters in every common install
FONT_SIZE = 12  # points
SIGNATURE_BLANK = "__________"
# page margins, cm: left, right, top, bottom
MARGINS_CM = (3.0, 1.5, 2.0, 2.0)
HEADER_INDENT_CM = 8.0  # the "to whom / from whom" block sits on the right half of the page
FACT_COLUMNS_CM = (6.0, 10.5)

# The PDF embeds PT Serif (ParaType, SIL OFL 1.1; static TTFs shipped by the fontpkg-pt-serif wheel): a serif
# close to Times New Roman that covers the whole Kazakh Cyrillic alphabet (ә ғ қ ң ө ұ ү һ і).
PDF_FONT = "PTSerif"
PDF_FONT_FILES = {"": "PT_Serif-Web-Regular.ttf", "B": "PT_Serif-Web-Bold.ttf", "I": "PT_Serif-Web-Italic.ttf"}

Gettext = Callable[[str], str]


# ---------------------------------------------------------------------------------------- blocks

@dataclass(frozen=True)
class Run:
    text: str
    bold: bool | None = None  # None: as the paragraph style (the DOCX keeps the difference)
    italic: bool = False


@dataclass(frozen=True)
class Para:
    """One paragraph; no runs is an empty line."""

    runs: tuple[Run, ...] = ()
    align: str = "left"  # "left" | "center" | "justify"
    indent_cm: float | None = None
    first_line_cm: float | None = None
    size: float | None = None  # points; None: the body size


@dataclass(frozen=True)
class Facts:
    """A two-column table of (label, value); a value may hold several lines."""

    rows: tuple[tuple[str, str], ...]


Block = Union[Para, Facts]


@dataclass(frozen=True)
class Layout:
    title: str  # document property
    author: str
    lang: str
    blocks: tuple[Block, ...]
    footer: str  # on every page


def _date(d: date | None) -> str:
    return d.strftime("%d.%m.%Y") if d else ""


def _p(text: str = "", *, bold: bool = False, italic: bool = False, **kw) -> Para:
    return Para((Run(text, bold=bold, italic=italic),) if text else (), **kw)


def _labelled(label: str, value: str, *, indent_cm: float | None = None) -> Para:
    return Para((Run(f"{label}: ", bold=True), Run(value)), indent_cm=indent_cm)


def _multiline(text: str) -> list[Para]:
    return [_p(chunk, align="justify", first_line_cm=1.0) for chunk in (text or "").split("\n") if chunk.strip()]


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


def layout(complaint: Complaint, *, number: str, gettext: Gettext, lang: str | None = None, today: date) -> Layout:
    """The document's content as blocks, every human string through `gettext`."""
    _ = gettext
    c = complaint
    lang = lang or c.language or "ru"
    blocks: list[Block] = []
    add = blocks.append

    # -- header block: to whom / from whom (right half of the page)
    indent = HEADER_INDENT_CM
    add(_labelled(_("To whom"), recipient_label(c.recipient_kind or "", _) if c.recipient_kind else "", indent_cm=indent))
    if c.recipient_name:
        add(_p(c.recipient_name, indent_cm=indent))
    from_whom = _("From whom")
    add(_p(f"{from_whom}:", bold=True, indent_cm=indent))
    for label, value in _applicant_lines(c, _):
        add(_labelled(label, value, indent_cm=indent))

    # -- title
    add(_p())
    add(_p(_("Complaint"), bold=True, align="center", size=14))
    add(_p(_("No. {number}").format(number=number), align="center"))
    add(_p(_("I appeal against a decision, action (inaction) in the provision of a public service."), align="justify"))

    # -- the facts, as a two-column table
    not_specified = _("not specified")
    grounds = grounds_label(c.grounds or "", _) if c.grounds else not_specified
    if c.grounds == "other" and c.grounds_other_text:
        grounds = f"{grounds}: {c.grounds_other_text}"
    add(Facts((
        (_("Public service"), c.service_name or not_specified),
        (_("Service provider"), c.organisation or not_specified),
        (_("Date of the decision (action)"), _date(c.decision_date) or not_specified),
        (_("Date the applicant learned of it"), _date(c.learned_date) or not_specified),
        (_("Officials whose actions are appealed"), c.officials or not_specified),
        (_("Grounds for the complaint"), grounds),
    )))

    # -- what happened, demands
    add(_p())
    add(_p(_("Circumstances and motives of the complaint"), bold=True))
    blocks.extend(_multiline(c.description or not_specified))
    add(_p(_("On the basis of the above, I ask:"), bold=True))
    blocks.extend(_multiline(c.demands or not_specified))

    # -- attachments
    add(_p(_("Attachments"), bold=True))
    if c.attachments:
        for i, att in enumerate(c.attachments, 1):
            add(_p(f"{i}. {att.name} ({attachment_kind_label(att.kind, _)})", indent_cm=0.5))
    else:
        add(_p(_("No attachments"), indent_cm=0.5))

    # -- date and signature
    add(_p())
    add(_labelled(_("Date of filing"), format_date(today, format="long", locale=lang)))
    signature = _("Signature")
    runs = [Run(f"{signature}: ", bold=True)]
    if c.is_legal_entity and c.representative_position:
        runs.append(Run(f"{c.representative_position} "))
    runs.append(Run(f"{SIGNATURE_BLANK} ({c.signature_name()})"))
    add(Para(tuple(runs)))
    add(_p(
        _("When filed through eOtinish or the eGov portal, the complaint is signed with an electronic digital signature (EDS) or a one-time SMS code."),
        italic=True, size=10,
    ))

    return Layout(
        title=f"{_('Complaint')} {number}",
        author=c.full_name() if not c.is_legal_entity else (c.org_name or ""),
        lang=lang,
        blocks=tuple(blocks),
        footer=_("Prepared with Shagym; guidance, not legal advice."),
    )


# ------------------------------------------------------------------------------------------ DOCX

_DOCX_ALIGN = {"left": None, "center": WD_ALIGN_PARAGRAPH.CENTER, "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}


def _set_font(document) -> None:
    style = document.styles["Normal"]
    style.font.name = FONT_NAME
    style.font.size = Pt(FONT_SIZE)
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), FONT_NAME)
    style.paragraph_format.space_after = Pt(4)


def _docx_para(doc, block: Para) -> None:
    p = doc.add_paragraph()
    for r in block.runs:
        run = p.add_run(r.text)
        if r.bold is not None:
            run.bold = r.bold
        if r.italic:
            run.italic = True
        if block.size is not None:
            run.font.size = Pt(block.size)
    if _DOCX_ALIGN[block.align] is not None:
        p.alignment = _DOCX_ALIGN[block.align]
    if block.indent_cm is not None:
        p.paragraph_format.left_indent = Cm(block.indent_cm)
    if block.first_line_cm is not None:
        p.paragraph_format.first_line_indent = Cm(block.first_line_cm)


def _docx_facts(doc, block: Facts) -> None:
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for label, value in block.rows:
        cells = table.add_row().cells
        cells[0].width, cells[1].width = Cm(FACT_COLUMNS_CM[0]), Cm(FACT_COLUMNS_CM[1])
        cells[0].paragraphs[0].add_run(label).bold = True
        lines = value.split("\n")
        cells[1].paragraphs[0].add_run(lines[0])
        for extra in lines[1:]:
            cells[1].add_paragraph(extra)


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
    lay = layout(complaint, number=number, gettext=gettext, lang=lang, today=today)
    doc = Document()
    _set_font(doc)
    section = doc.sections[0]
    left, right, top, bottom = MARGINS_CM
    section.left_margin, section.right_margin = Cm(left), Cm(right)
    section.top_margin, section.bottom_margin = Cm(top), Cm(bottom)
    doc.core_properties.language = lay.lang
    doc.core_properties.title = lay.title
    doc.core_properties.author = lay.author
    for block in lay.blocks:
        if isinstance(block, Facts):
            _docx_facts(doc, block)
        else:
            _docx_para(doc, block)
    footer = section.footer.paragraphs[0]
    footer.text = lay.footer
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for run in footer.runs:
        run.font.size = Pt(8)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# ------------------------------------------------------------------------------------------- PDF

_PDF_ALIGN = {"left": "LEFT", "center": "CENTER", "justify": "JUSTIFY"}
_LINE = 1.25  # line height, as a factor of the font size
_SPACE_AFTER_MM = 4 * 0.3528  # 4 pt, as in the DOCX's Normal style


class _ComplaintPDF(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(PDF_FONT, "", 8)
        self.cell(0, 5, self.footer_text.translate(_PDF_SUBSTITUTES), align="C")


# characters Babel or users may put in that PT Serif lacks, with what to print instead
_PDF_SUBSTITUTES = str.maketrans({"\u202f": "\u00a0"})  # narrow no-break space (Babel's kk dates)


def _style(run: Run) -> str:
    return ("B" if run.bold else "") + ("I" if run.italic else "")


def _pdf_para(pdf: FPDF, block: Para) -> None:
    size = block.size or FONT_SIZE
    if not block.runs:
        pdf.ln(size * 0.3528 * _LINE + _SPACE_AFTER_MM)
        return
    pdf.set_x(pdf.l_margin)  # a table leaves x where its last cell ended
    with pdf.text_columns(text_align=_PDF_ALIGN[block.align], line_height=_LINE, l_margin=pdf.l_margin) as cols:
        with cols.paragraph(
            indent=(block.indent_cm or 0) * 10,
            first_line_indent=(block.first_line_cm or 0) * 10,
            bottom_margin=_SPACE_AFTER_MM,
        ) as par:
            for run in block.runs:
                pdf.set_font(PDF_FONT, _style(run), size)
                par.write(run.text.translate(_PDF_SUBSTITUTES))


def _pdf_facts(pdf: FPDF, block: Facts) -> None:
    pdf.set_font(PDF_FONT, "", FONT_SIZE)
    with pdf.table(
        col_widths=FACT_COLUMNS_CM,
        width=min(pdf.epw, sum(FACT_COLUMNS_CM) * 10),
        first_row_as_headings=False,
        text_align="LEFT",
        line_height=FONT_SIZE * 0.3528 * _LINE,
        padding=1.2,
    ) as table:
        for label, value in block.rows:
            row = table.row()
            row.cell(label.translate(_PDF_SUBSTITUTES), style=FontFace(emphasis="BOLD"))
            row.cell(value.translate(_PDF_SUBSTITUTES))
    pdf.ln(_SPACE_AFTER_MM)


def render_pdf(
    complaint: Complaint,
    *,
    number: str,
    gettext: Gettext,
    lang: str | None = None,
    today: date,
) -> bytes:
    """Render the complaint as PDF bytes (A4, PT Serif embedded); same arguments as `render_docx`."""
    lay = layout(complaint, number=number, gettext=gettext, lang=lang, today=today)
    pdf = _ComplaintPDF(format="A4", unit="mm")
    pdf.footer_text = lay.footer
    left, right, top, bottom = MARGINS_CM
    pdf.set_margins(left * 10, top * 10, right * 10)
    pdf.set_auto_page_break(True, margin=bottom * 10)
    files = fontpkg_pt_serif.ROOT / "files"
    for style, name in PDF_FONT_FILES.items():
        pdf.add_font(PDF_FONT, style, str(files / name))
    pdf.set_lang(lay.lang)
    pdf.set_title(lay.title)
    pdf.set_author(lay.author)
    pdf.set_creator("Shagym")
    pdf.add_page()
    for block in lay.blocks:
        if isinstance(block, Facts):
            _pdf_facts(pdf, block)
        else:
            _pdf_para(pdf, block)
    return bytes(pdf.output())


# ----------------------------------------------------------------------------------------- names

def document_filename(number: str, lang: str, ext: str = "docx") -> str:
    """ASCII file name for Telegram: 'SH-2026-000123_shagym.docx' (kk) / 'SH-2026-000123_zhaloba.docx' (ru);
    `ext="pdf"` for the PDF."""
    safe = re.sub(r"[^A-Za-z0-9\-]+", "-", number or "").strip("-") or "complaint"
    word = {"kk": "shagym", "ru": "zhaloba"}.get(lang, "complaint")
    return f"{safe}_{word}.{ext}"


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
