"""The printable complaint, in the complaint's language: DOCX (python-docx) and PDF (fpdf2), one layout.

Pure code: takes a `Complaint` and a gettext callable for the document's language, and returns bytes. Every
human string goes through the gettext passed in (English msgids). The content is laid out once as simple
blocks (`layout`) and drawn by two small renderers (`render_docx`, `render_pdf`).

The page is what a body's registry expects (docs/legal.md, 'The printed complaint'): A4 with 2 cm margins; the
addressee alone, in the
dative, top right; the applicant block under it; the title; the facts, motives and demands; the attachments;
the date of filing left blank to fill in by hand; the signature line (for a legal entity, its signatory's
position and name). The end of the text, the date and the signature are kept on one page. No disclaimer and
no internal number in the heading: the complaint's number is a small reference in the footer.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Union

import fontpkg_pt_serif
from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph
from fpdf import FPDF, FontFace

from bot.domain.complaint import (
    Complaint,
    attachment_kind_label,
    grounds_label,
    id_doc_type_label,
    recipient_label,
)
from bot.domain.text import Gettext

FONT_NAME = "Times New Roman"  # has Cyrillic incl. Kazakh letters in every common install
FONT_SIZE = 12  # points
SIGNATURE_BLANK = "__________"
PAGE_CM = (21.0, 29.7)  # A4
# page margins, cm: left, right, top, bottom
MARGINS_CM = (2.0, 2.0, 2.0, 2.0)
HEADER_INDENT_CM = 9.0  # the addressee and the applicant sit on the right half of the page
FACT_COLUMNS_CM = (6.0, 11.0)
#: The language tag word processors spell-check with.
LANGUAGE_TAGS = {"kk": "kk-KZ", "ru": "ru-RU"}

# The PDF embeds PT Serif (ParaType, SIL OFL 1.1; static TTFs shipped by the fontpkg-pt-serif wheel): a serif
# close to Times New Roman that covers the whole Kazakh Cyrillic alphabet (ә ғ қ ң ө ұ ү һ і).
PDF_FONT = "PTSerif"
PDF_FONT_FILES = {"": "PT_Serif-Web-Regular.ttf", "B": "PT_Serif-Web-Bold.ttf", "I": "PT_Serif-Web-Italic.ttf"}



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
    keep_with_next: bool = False  # a heading: never the last line of a page


@dataclass(frozen=True)
class Facts:
    """A two-column table of (label, value); a value may hold several lines."""

    rows: tuple[tuple[str, str], ...]


Block = Union[Para, Facts]


@dataclass(frozen=True)
class Layout:
    title: str  # document property
    author: str
    lang: str  # "kk" | "ru"
    blocks: tuple[Block, ...]
    footer: str  # on every page, small
    keep_from: int  # blocks[keep_from:] (the demands, the attachments, the date, the signature) stay on one page

    @property
    def language_tag(self) -> str:
        return LANGUAGE_TAGS.get(self.lang, self.lang)


def _date(d: date | None) -> str:
    return d.strftime("%d.%m.%Y") if d else ""


def _p(text: str = "", *, bold: bool = False, italic: bool = False, **kw: Any) -> Para:
    return Para((Run(text, bold=bold, italic=italic),) if text else (), **kw)


def _labelled(label: str, value: str, *, indent_cm: float | None = None) -> Para:
    return Para((Run(f"{label}: ", bold=True), Run(value)), indent_cm=indent_cm)


def _multiline(text: str) -> list[Para]:
    return [_p(chunk, align="justify", first_line_cm=1.25) for chunk in (text or "").split("\n") if chunk.strip()]


# ----------------------------------------------------------------------------- the addressee

# The addressee stands in the dative («Руководителю ЦОН …», «… ХҚКО басшысына»). The wizard asks for it in that
# form; the common head words typed in the nominative are put in the dative here.
_RU_DATIVE = {
    "руководитель": "руководителю", "начальник": "начальнику", "директор": "директору",
    "председатель": "председателю", "заместитель": "заместителю", "аким": "акиму", "акимат": "акимату",
    "департамент": "департаменту", "управление": "управлению", "отдел": "отделу", "агентство": "агентству",
    "министерство": "министерству", "филиал": "филиалу", "центр": "центру",
}
_KK_DATIVE = {
    "басшысы": "басшысына", "әкімі": "әкіміне", "әкімдігі": "әкімдігіне", "департаменті": "департаментіне",
    "басқармасы": "басқармасына", "бөлімі": "бөліміне", "агенттігі": "агенттігіне", "министрлігі": "министрлігіне",
    "корпорациясы": "корпорациясына", "филиалы": "филиалына", "орталығы": "орталығына", "төрағасы": "төрағасына",
    "директоры": "директорына", "бастығы": "бастығына",
}


def _same_case(word: str, like: str) -> str:
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def addressee_dative(name: str, lang: str) -> str:
    """The addressee in the dative: Russian puts its first word there («Аким города» -> «Акиму города»),
    Kazakh its last («ХҚКО басшысы» -> «ХҚКО басшысына»); anything else is kept as typed."""
    name = (name or "").strip()
    if not name:
        return name
    if lang == "ru":
        first, _, rest = name.partition(" ")
        dative = _RU_DATIVE.get(first.lower())
        return f"{_same_case(dative, first)} {rest}".strip() if dative else name
    if lang == "kk":
        head, _, last = name.rpartition(" ")
        stripped = last.rstrip(".")
        dative = _KK_DATIVE.get(stripped.lower())
        return f"{head} {_same_case(dative, stripped)}".strip() if dative else name
    return name


# ------------------------------------------------------------------------------------- layout

def _applicant_lines(c: Complaint, _: Gettext) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    if c.is_legal_entity:
        lines.append((_("Applicant"), c.org_name or ""))
        outgoing = _("Outgoing No. {number} of {date}").format(number=c.outgoing_number or "",
                                                                date=_date(c.outgoing_date))
        lines.append(("", outgoing))  # under the name, as on the company's letterhead
        lines.append((_("BIN"), c.bin or ""))
    else:
        lines.append((_("Applicant"), c.full_name()))
        if c.no_iin:  # the identity document instead of the IIN (APPK art. 63; docs/legal.md, 'IIN and BIN')
            lines.append((_("Identity document"), id_doc_type_label(c.id_doc_type or "", _)))
            lines.append((_("Document number"), c.id_doc_number or ""))
            lines.append((_("Date of issue"), _date(c.id_doc_issued)))
            lines.append((_("Issued by"), c.id_doc_issuer or ""))
        else:
            lines.append((_("IIN"), c.iin or ""))
    lines.append((_("Postal address"), c.postal_address or ""))
    if c.actual_address:
        lines.append((_("Actual address"), c.actual_address))
    if c.phone:
        lines.append((_("Phone"), c.phone))
    if c.email:
        lines.append((_("E-mail"), c.email))
    return lines


def layout(complaint: Complaint, *, number: str, gettext: Gettext, lang: str | None = None) -> Layout:
    """The document's content as blocks, every human string through `gettext`."""
    _ = gettext
    c = complaint
    lang = lang or c.language or "ru"
    not_specified = _("not specified")
    blocks = _header(c, _, lang) + [
        # -- title and the complaint's one-line subject
        _p(),
        _p(_("Complaint"), bold=True, align="center", size=14),
        _p(_("I appeal against a decision, action (inaction) of the service provider in the provision of a "
             "public service."), align="justify", first_line_cm=1.25),
        _facts(c, _, not_specified),
        # -- what happened and why, then the demands
        _p(),
        _p(_("Circumstances and motives of the complaint"), bold=True, keep_with_next=True),
        *_multiline(c.description or not_specified),
    ]
    keep_from = len(blocks)  # from the demands on (at most ~12 lines), the text stays with the signature
    blocks += [
        _p(_("On the basis of the above, I ask:"), bold=True, keep_with_next=True),
        *_multiline(c.demands or not_specified),
        *_attachments(c, _),
        *_signature(c, _),
    ]
    return Layout(
        title=f"{_('Complaint')} {number}",
        author=c.full_name() if not c.is_legal_entity else (c.org_name or ""),
        lang=lang,
        blocks=tuple(blocks),
        footer=number,
        keep_from=keep_from,
    )


def _header(c: Complaint, _: Gettext, lang: str) -> list[Block]:
    """The addressee, alone, in the dative, top right; then who writes."""
    indent = HEADER_INDENT_CM
    addressee = addressee_dative(c.recipient_name or "", lang)
    if not addressee and c.recipient_kind:
        addressee = recipient_label(c.recipient_kind, _)
    blocks: list[Block] = [_p(addressee, indent_cm=indent), _p()]
    for label, value in _applicant_lines(c, _):
        blocks.append(_labelled(label, value, indent_cm=indent) if label else _p(value, indent_cm=indent))
    return blocks


def _facts(c: Complaint, _: Gettext, not_specified: str) -> Facts:
    """The facts, as a two-column table."""
    grounds = grounds_label(c.grounds or "", _) if c.grounds else not_specified
    if c.grounds == "other" and c.grounds_other_text:
        grounds = f"{grounds}: {c.grounds_other_text}"
    return Facts((
        (_("Public service"), c.service_name or not_specified),
        (_("Service provider"), c.organisation or not_specified),
        (_("Date of the decision (action)"), _date(c.decision_date) or not_specified),
        (_("Date the applicant learned of it"), _date(c.learned_date) or not_specified),
        (_("Officials whose actions are appealed"), c.officials or not_specified),
        (_("Grounds for the complaint"), grounds),
    ))


def _attachments(c: Complaint, _: Gettext) -> list[Block]:
    blocks: list[Block] = [_p(_("Attachments"), bold=True, keep_with_next=True)]
    if not c.attachments:
        return blocks + [_p(_("No attachments"), indent_cm=0.5)]
    return blocks + [_p(f"{i}. {att.name} ({attachment_kind_label(att.kind, _)})", indent_cm=0.5)
                     for i, att in enumerate(c.attachments, 1)]


def _signature(c: Complaint, _: Gettext) -> list[Block]:
    """The date of filing, blank (the complaint is filed later), and the signature."""
    blocks: list[Block] = [_p(), _labelled(_("Date of filing"), _("«___» ____________ 20__"))]
    if c.is_legal_entity:
        position = c.representative_position or ""
        blocks.append(_labelled(_("Signatory"), f"{position} {c.representative_name or ''}".strip()))
    blocks.append(_labelled(_("Signature"), f"{SIGNATURE_BLANK} ({c.signature_name()})"))
    return blocks


# ------------------------------------------------------------------------------------------ DOCX

_DOCX_ALIGN = {"left": None, "center": WD_ALIGN_PARAGRAPH.CENTER, "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}


def _child(parent: Any, tag: str) -> Any:
    element = parent.find(qn(tag))
    if element is None:
        element = parent.makeelement(qn(tag), {})
        parent.append(element)
    return element


def _set_font_and_language(document: Any, language_tag: str) -> None:
    """Times New Roman 12 and the document's language (w:lang), in the Normal style and the defaults."""
    style = document.styles["Normal"]
    style.font.name = FONT_NAME
    style.font.size = Pt(FONT_SIZE)
    style.paragraph_format.space_after = Pt(4)
    defaults = document.styles.element.find(qn("w:docDefaults"))
    rprs = [style.element.get_or_add_rPr()]
    if defaults is not None:
        rprs.append(_child(_child(defaults, "w:rPrDefault"), "w:rPr"))
    for rpr in rprs:
        fonts = _child(rpr, "w:rFonts")
        for attr in ("w:ascii", "w:hAnsi", "w:cs"):
            fonts.set(qn(attr), FONT_NAME)
        lang = _child(rpr, "w:lang")
        for attr in ("w:val", "w:eastAsia", "w:bidi"):
            lang.set(qn(attr), language_tag)


def _docx_para(doc: Any, block: Para, *, keep_with_next: bool = False, keep_together: bool = False) -> None:
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
    fmt = p.paragraph_format
    if block.indent_cm is not None:
        fmt.left_indent = Cm(block.indent_cm)
    if block.first_line_cm is not None:
        fmt.first_line_indent = Cm(block.first_line_cm)
    if keep_with_next:
        fmt.keep_with_next = True
    if keep_together:
        fmt.keep_together = True


def _docx_facts(doc: Any, block: Facts) -> None:
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


def render_docx(complaint: Complaint, *, number: str, gettext: Gettext, lang: str | None = None) -> bytes:
    """Render the complaint as DOCX bytes (A4).

    `gettext` translates English msgids into the document's language (e.g. `Translations.gettext` of the
    complaint's language); `lang` ("kk" / "ru", default: complaint.language) sets the document's language
    (w:lang, for spell-checking) and the addressee's dative.
    """
    lay = layout(complaint, number=number, gettext=gettext, lang=lang)
    doc = Document()
    _set_font_and_language(doc, lay.language_tag)
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(PAGE_CM[0]), Cm(PAGE_CM[1])
    left, right, top, bottom = MARGINS_CM
    section.left_margin, section.right_margin = Cm(left), Cm(right)
    section.top_margin, section.bottom_margin = Cm(top), Cm(bottom)
    doc.core_properties.language = lay.language_tag
    doc.core_properties.title = lay.title
    doc.core_properties.author = lay.author
    last = len(lay.blocks) - 1
    for i, block in enumerate(lay.blocks):
        if isinstance(block, Facts):
            _docx_facts(doc, block)
        else:
            kept = i >= lay.keep_from
            _docx_para(doc, block, keep_with_next=block.keep_with_next or (kept and i < last), keep_together=kept)
    footer = section.footer.paragraphs[0]
    footer.text = lay.footer
    footer.alignment = WD_ALIGN_PARAGRAPH.RIGHT
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
        self.cell(0, 5, self.footer_text.translate(_PDF_SUBSTITUTES), align="R")


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


def _pdf_block(pdf: FPDF, block: Block) -> None:
    if isinstance(block, Facts):
        _pdf_facts(pdf, block)
    else:
        _pdf_para(pdf, block)


def render_pdf(complaint: Complaint, *, number: str, gettext: Gettext, lang: str | None = None) -> bytes:
    """Render the complaint as PDF bytes (A4, PT Serif embedded); same arguments as `render_docx`."""
    lay = layout(complaint, number=number, gettext=gettext, lang=lang)
    pdf = _ComplaintPDF(format="A4", unit="mm")
    pdf.footer_text = lay.footer
    left, right, top, bottom = MARGINS_CM
    pdf.set_margins(left * 10, top * 10, right * 10)
    pdf.set_auto_page_break(True, margin=bottom * 10)
    files = fontpkg_pt_serif.ROOT / "files"
    for style, name in PDF_FONT_FILES.items():
        pdf.add_font(PDF_FONT, style, str(files / name))
    pdf.set_lang(lay.language_tag)
    pdf.set_title(lay.title)
    pdf.set_author(lay.author)
    pdf.set_creator("Shagym")
    pdf.add_page()
    blocks = lay.blocks
    i = 0
    while i < len(blocks):
        # The demands, the attachments, the date and the signature on one page; a heading with what follows it.
        block = blocks[i]
        if i == lay.keep_from:
            group = blocks[i:]
        elif isinstance(block, Para) and block.keep_with_next:
            group = blocks[i : i + 2]
        else:
            group = blocks[i : i + 1]
        _pdf_together(pdf, group)
        i += len(group)
    return bytes(pdf.output())


def _pdf_together(pdf: FPDF, group: tuple[Block, ...]) -> None:
    """Draw blocks that must share a page: once on trial (rewound); if that ran over the page, they start on
    the next one."""
    if len(group) > 1:
        with pdf.offset_rendering() as trial:
            for block in group:
                _pdf_block(pdf, block)
        if trial.page_break_triggered:
            pdf.add_page()
    for block in group:
        _pdf_block(pdf, block)


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

    def walk(block: Any) -> None:
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
