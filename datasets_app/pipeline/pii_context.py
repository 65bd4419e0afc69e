"""Context evidence: the label or column header next to a value says what the value is.

Sources of labels, all read straight from the raw text (one pass each, no model):

* ``key: value`` and ``key = value`` fields anywhere a field can start (line start, after
  ``{ , ; | & ?``, a tab or a wide gap): web-form dumps, e-mail headers, YAML, ``.env``
  files, JSON (``"fecha_nac": "1979-05-05"``), form-encoded bodies (``pwd=...&user=...``);
* column headers of CSV/TSV/pipe tables pasted into a text: every cell below a ``dob`` or
  ``apellido`` header has that header's type;
* speaker labels of chats and transcripts (``ana.m: hola``, ``[10:02] Tomasz:``): the label
  is itself a name.

``pii_labels.label_type`` classifies a label; a per-type extractor then cuts the value that
fits the type out of what follows (a name is letters, an identifier has digits, a date parses
as a date), so a label never turns free text into a finding. Labels of non-personal fields
("Order #", "version", "importe") yield KEEP spans: weak findings inside them are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from urllib.parse import unquote_plus

from datasets_app.pipeline.pii_dates import DATE_AT_START
from datasets_app.pipeline.pii_labels import KEEP, is_name_field, label_type, normalize_label
from datasets_app.pipeline.pii_lexicon import NameLexicon
from datasets_app.pipeline.pii_names import name_run
from datasets_app.pipeline.pii_types import (
    ADDRESS,
    CREDIT_CARD,
    DATE_OF_BIRTH,
    EMAIL_ADDRESS,
    IBAN_CODE,
    IP_ADDRESS,
    MEDICAL_ID,
    NATIONAL_ID,
    PERSON,
    PHONE_NUMBER,
    SECRET,
    Finding,
)
from datasets_app.pipeline.pii_validators import company_identifier

Span = tuple[int, int]
LABEL_SCORE = 0.85

_SEPARATOR = re.compile(r"[:=：]|[ \t]*(?:\.{3,}|…+|_{3,})[ \t]*:?")  # dotted leaders too
# A field key: words without digits or sentence breaks ("Passport No.", "N.º de afiliado",
# "Address line 1", "Contact (home)"), or an identifier ("fecha_nac", "address_line1").
_KEY_WORD = r"(?:[^\W\d_][^\W\d_'’ºª°*-]*\.?|[#ºª°]|N\.?[ \t]?[ºª°o]\.?)"
_KEY = (
    rf"{_KEY_WORD}(?:(?:[ \t]+|[ \t]*/[ \t]*){_KEY_WORD}){{0,5}}(?:[ \t]\d{{1,2}})?"
    r"(?:[ \t]*\([^()\n\d]{1,40}\))?|[A-Za-z_][\w.-]{0,44}"
)
_KEY_BEFORE = re.compile(
    r"(?m)(?:^|(?<=[{,;|&?\t\[(#>*:-])|(?<=\s\s)|(?<=[\"']))[ \t]*[\"']?"
    rf"({_KEY})[\"']?\]?[ \t]*$"
)
_FORM_VALUE_END = re.compile(r"[&\s]")
_FIELD_END = re.compile(r"[|;\t]|\s{3,}|$", re.MULTILINE)


@dataclass(frozen=True)
class Field:
    """A labelled value: ``text[value_start:value_end]`` follows a label of ``entity_type``."""

    label: str
    entity_type: str
    value_start: int
    value_end: int
    name_field: bool = False
    quoted: bool = False
    form: bool = False


def _key_before(text: str, position: int) -> re.Match[str] | None:
    line_start = text.rfind("\n", 0, position) + 1
    return _KEY_BEFORE.search(text, max(line_start, position - 48), position)


def _last_sentence(key: str) -> str:
    """The label part of a key that swallowed the end of a sentence ("...done. Name")."""
    head, dot, tail = key.rpartition(". ")
    if dot and tail and len(head.split()[-1]) > 4:
        return tail
    return key


def _is_separator(text: str, position: int) -> bool:
    """A ``:``/``=`` that separates a key from its value (not a URL, a time, ``==``, ``:=``)."""
    after = text[position + 1 : position + 3]
    if after.startswith(("//", "=")) or text[position - 1 : position] in ("=", "!", "<", ">"):
        return False
    before = text[position - 1 : position]
    return not (before.isdigit() and after[:1].isdigit())


def _value_bounds(text: str, start: int, form: bool) -> tuple[int, int, bool]:
    """(start, end, quoted) of the raw value after a separator at ``start``."""
    while start < len(text) and text[start] in " \t":
        start += 1
    if start < len(text) and text[start] in "\"'":
        close = text.find(text[start], start + 1, start + 400)
        newline = text.find("\n", start + 1, start + 400)
        if close != -1 and (newline == -1 or close < newline):
            return start + 1, close, True
        start += 1
    if form:
        match = _FORM_VALUE_END.search(text, start)
        return start, match.start() if match else len(text), False
    match = _FIELD_END.search(text, start)
    end = match.start() if match else len(text)
    if end == start and text[start : start + 1] in ("\n", "\r"):
        return _next_line_value(text, start)  # a form whose value sits under its label
    return start, end, False


def _next_line_value(text: str, position: int) -> tuple[int, int, bool]:
    """The next non-blank line after ``position`` when it is not itself a labelled field."""
    line = re.compile(r"[ \t]*\r?\n[ \t]*([^\n]{1,120})").match(text, position)
    if line is None or re.match(r"[^:=\n]{1,40}[:=]", line.group(1)):
        return position, position, False
    return line.start(1), line.end(1), False


def labelled_fields(text: str) -> Iterator[Field]:
    """``key: value`` / ``key=value`` / ``"key": "value"`` fields whose key has a type."""
    for separator in _SEPARATOR.finditer(text):
        position = separator.start()
        if position == 0 or not _is_separator(text, position):
            continue
        key = _key_before(text, position)
        if key is None:
            continue
        entity_type = label_type(_last_sentence(key.group(1)))
        if entity_type is None or entity_type == IP_ADDRESS:
            continue
        form = separator.group() == "=" and text[key.start(1) - 1 : key.start(1)] in "&?"
        form = form or (separator.group() == "=" and "&" in text[position : position + 200])
        start, end, quoted = _value_bounds(text, separator.end(), form)
        if end > start:
            name_field = is_name_field(key.group(1))
            yield Field(key.group(1), entity_type, start, end, name_field, quoted, form)


# --- tables ------------------------------------------------------------------------------------

_DELIMITERS = ("\t", "|", ";", ",")


def _cells(line: str, delimiter: str) -> list[Span]:
    """(start, end) of each cell of a delimited line (double-quoted cells kept whole)."""
    spans, start, quoted = [], 0, False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            spans.append((start, index))
            start = index + 1
    spans.append((start, len(line)))
    return spans


def _strip_cell(line: str, span: Span) -> Span:
    start, end = span
    while start < end and line[start] in " \t\"'":
        start += 1
    while end > start and line[end - 1] in " \t\"'\r":
        end -= 1
    return start, end


def _header_types(line: str, delimiter: str) -> list[str | None] | None:
    """Types of each column when ``line`` is a header with at least one typed column."""
    cells = [_strip_cell(line, c) for c in _cells(line, delimiter)]
    if len(cells) < 2 or len(cells) > 40:
        return None
    labels = [line[s:e] for s, e in cells]
    if any(
        len(label) > 40 or sum(ch.isdigit() for ch in label) > 2 or ":" in label for label in labels
    ):
        return None
    types = [label_type(label) if label else None for label in labels]
    if not any(t not in (None, KEEP) for t in types):
        return None
    return types


def table_fields(text: str) -> Iterator[Field]:
    """Cells under a typed column header, for every delimited table in ``text``."""
    lines = text.split("\n")
    offsets, position = [], 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    index = 0
    while index < len(lines) - 1:
        consumed = _table_at(lines, offsets, index)
        if consumed:
            yield from consumed[1]
            index += consumed[0]
        else:
            index += 1


def _row_fits(line: str, n_cells: int, width: int, delimiter: str) -> bool:
    """Does a line with ``n_cells`` cells belong to a table ``width`` columns wide? One cell
    more or fewer is tolerated on wide tables; more cells also when the extra delimiters are
    unquoted thousands separators ("₦50,000") rather than prose (", " between words)."""
    if abs(n_cells - width) <= (1 if width >= 4 else 0):
        return True
    return n_cells > width >= 4 and delimiter == "," and line.count(", ") <= 1


def _table_at(lines: list[str], offsets: list[int], index: int) -> tuple[int, list[Field]] | None:
    header = lines[index]
    for delimiter in _DELIMITERS:
        if header.count(delimiter) < 1:
            continue
        types = _header_types(header, delimiter)
        if types is None:
            continue
        fields, row = [], index + 1
        width = len(_cells(header, delimiter))
        while row < len(lines) and lines[row].strip():
            cells = _cells(lines[row], delimiter)
            if set(lines[row].strip()) <= set("-|:+= \t"):
                row += 1  # a markdown rule under the header
                continue
            if not _row_fits(lines[row], len(cells), width, delimiter):
                break
            for column, cell in enumerate(cells[: len(types)]):
                entity_type = types[column]
                start, end = _strip_cell(lines[row], cell)
                if entity_type is not None and end > start:
                    base = offsets[row]
                    label = header[slice(*_strip_cell(header, _cells(header, delimiter)[column]))]
                    fields.append(
                        Field(label, entity_type, base + start, base + end, is_name_field(label))
                    )
            row += 1
        if row > index + 1:
            return row - index, fields
    return None


# --- values that fit their type --------------------------------------------------------------------

_NAME_LINK = frozenset(
    "de del la las los y i van von der da di le du dos das e al el bin ibn".split()
)
_ID_VALUE = re.compile(
    r"(?:[*xX•#]{1,8}[-. ]?)*[A-Za-z0-9](?:[A-Za-z0-9]|[*•]+(?=[A-Za-z0-9])|[.\-/][A-Za-z0-9]"
    r"|[ ](?=\d+(?!\s?[A-Za-z]{3}))"
    r"|[ ](?=[A-D]\b))*"
)
_PHONE_VALUE = re.compile(r"\+?\(?\d[\d ().-]{5,22}\d")
_CARD_VALUE = re.compile(r"\d(?:[ -]?\d){11,18}")
_BANK_VALUE = re.compile(r"[A-Za-z]{0,2}\d[\dA-Za-z -]{4,40}\d")
_SECRET_STOP = re.compile(r"\s|[,;]\s|$")
_PLACEHOLDER_VALUES = frozenset(
    """n/a na none null nil - -- --- ? ??? tbd pending unknown desconocido sin datos ninguno
    no yes si sí true false redacted hidden oculto xxx *** ****""".split()
)


_REGISTER_ENTRY = re.compile(r"\d{1,6}/(?:19|20)\d\d")  # "1187/2019": an entry of a year's register


def _id_span(text: str, start: int, end: int, min_digits: int) -> Span | None:
    match = _ID_VALUE.match(text, start, end)
    if not match:
        return None
    value = match.group().rstrip(".-/ ")
    if _REGISTER_ENTRY.fullmatch(value):
        return None
    if sum(ch.isdigit() for ch in value) < min_digits or len(value) > 32:
        return None
    return match.start(), match.start() + len(value)


def _regex_span(pattern: re.Pattern[str], min_digits: int) -> Callable[..., Span | None]:
    def span(text: str, start: int, end: int, *_: object, **__: object) -> Span | None:
        match = pattern.match(text, start, end)
        if not match or sum(ch.isdigit() for ch in match.group()) < min_digits:
            return None
        return match.span()

    return span


def _secret_span(text: str, start: int, end: int, quoted: bool) -> Span | None:
    if not quoted:
        stop = _SECRET_STOP.search(text, start, end)
        end = stop.start() if stop else end
    value = text[start:end].strip()
    if len(value) < 3 or value.lower() in _PLACEHOLDER_VALUES or set(value) <= set("*x•#.-_"):
        return None
    if value.startswith(("${", "{{", "%(", "<", "$(")) or len(value) > 200:
        return None
    return start, start + len(text[start:end].rstrip())


def _date_span(text: str, start: int, end: int) -> Span | None:
    match = DATE_AT_START.match(text, start, end)
    return match.span(1) if match else None


_CONTINUATION = re.compile(r"\d{3,}|^[A-ZÁÉÍÓÚÑÜ0-9 ,.()'/-]{3,}$|,")


def _address_span(text: str, start: int, end: int) -> Span | None:
    """The rest of the field, plus the continuation lines of a multi-line address (up to three
    lines that hold a postcode, a comma or only capitals, and are not labelled fields)."""
    value = text[start:end].rstrip(" ,.")
    if len(value) < 6 or sum(ch.isalpha() for ch in value) < 3:
        return None
    stop = start + len(value)
    line_end = text.find("\n", stop)
    lines = 0
    while line_end != -1 and lines < 3 and line_end - start < 200:
        following = text.find("\n", line_end + 1)
        line = text[line_end + 1 : following if following != -1 else len(text)].strip()
        if not line or len(line) > 60 or not _CONTINUATION.search(line):
            break
        if re.match(r"[^:=\n]{1,30}[:=]\s|[\w.-]{1,30}=\S", line):
            break  # another labelled field, whatever its label
        stop = line_end + 1 + len(text[line_end + 1 :].split("\n", 1)[0].rstrip())
        line_end, lines = following, lines + 1
    has_number = re.search(r"\d", text[start:stop]) is not None
    return (start, stop) if has_number or lines else None


def with_address_lines(text: str, finding: Finding) -> Finding:
    """An ADDRESS finding extended over the continuation lines that follow it ("Appt 31, 4e
    étage" / "75020 Paris" under "14 rue des Envierges"); other findings unchanged."""
    if finding.entity_type != ADDRESS or text.find("\n", finding.end, finding.end + 80) == -1:
        return finding
    if text[finding.end : text.find("\n", finding.end)].strip(" ,.;"):
        return finding  # the line goes on after the address: no block below it
    span = _address_span(text, finding.start, finding.end)
    if span is None or span[1] <= finding.end:
        return finding
    return Finding(finding.start, span[1], finding.entity_type, finding.score, finding.recognizer)


# Labels under which a company's tax number may stand; under any other identifier label
# (licence, document, passport) a CIF-shaped value is a person's and is reported.
_TAX_LABEL = re.compile(
    r"(?i)\b(?:rfc|cuit|cuil|nit|cif|nif|ruc|rut|tax|vat|iva|fiscal|tin|contribuyente|"
    r"tributari\w*|empresa|company|raz[oó]n social)\b"
)


def _company_tax_number(field: Field, text: str) -> Span | None:
    """The span of a company's tax number under a tax label (a KEEP value), else None."""
    if not _TAX_LABEL.search(normalize_label(field.label)):
        return None
    span = _id_span(text, field.value_start, field.value_end, 4)
    if span is None or not company_identifier(text[span[0] : span[1]]):
        return None
    return span


def value_span(field: Field, text: str, lexicon: NameLexicon) -> Span | None:
    """The part of a field's value that fits its type, or None when nothing fits."""
    start, end = field.value_start, field.value_end
    kind = field.entity_type
    if kind == PERSON:
        return name_run(text, start, end, lexicon, strong=field.name_field)
    if kind in (NATIONAL_ID, MEDICAL_ID, KEEP):
        span = _id_span(text, start, end, 4 if kind == NATIONAL_ID else 3)
        if (
            span is not None
            and kind == NATIONAL_ID
            and _TAX_LABEL.search(normalize_label(field.label))
            and company_identifier(text[span[0] : span[1]])
        ):
            return None  # a company's tax number identifies no person
        if span is None or (kind != KEEP and span[1] - span[0] < 5 and not _partial(field)):
            return None  # "policy 2023" is a year, not a policy number
        return span
    if kind == SECRET:
        return _secret_span(text, start, end, field.quoted)
    if kind == DATE_OF_BIRTH:
        return _date_span(text, start, end)
    if kind == ADDRESS:
        return _address_span(text, start, end)
    return _VALUE_SPANS[kind](text, start, end) if kind in _VALUE_SPANS else None


_PARTIAL_LABEL = re.compile(r"\b(?:last|ultimos?|final) ?(?:4|four|cuatro)\b|\blast4\b")


def _partial(field: Field) -> bool:
    """A label for the last four digits of an identifier ("ssn_last4", "últimos 4 del DNI"):
    a four-digit value is the identifier's, not a year."""
    return bool(_PARTIAL_LABEL.search(normalize_label(field.label)))


_EMAIL_VALUE = re.compile(r"[\w.%+-]{1,64}@[\w-]+(?:\.[\w-]+)+")


def _email_span(text: str, start: int, end: int) -> Span | None:
    match = _EMAIL_VALUE.match(text, start, end)
    return match.span() if match else None


_VALUE_SPANS: dict[str, Callable[..., Span | None]] = {
    EMAIL_ADDRESS: _email_span,
    PHONE_NUMBER: _regex_span(_PHONE_VALUE, 7),
    CREDIT_CARD: _regex_span(_CARD_VALUE, 12),
    IBAN_CODE: _regex_span(_BANK_VALUE, 6),
}


# Identifier names written in prose, no separator needed: "DNI 30.123.456", "MRN 00482113",
# "su cédula es 1.020.304.050", "passport number X1234567". Acronyms must be upper case.
_ID_ACRONYMS = (
    r"NIN|BVN|NUSS|CUSPP|NUIP|CMP|GMC|UAN|L\.C|T\.P|M\.N|M\.P|DL|D\.?N\.?I|N\.?I\.?F|N\.?I\.?E|CUIT|CUIL|CURP|RFC|R\.?U\.?T|RUN|C\.C|C\.I|SSN|NSS|NHS|"
    r"NINO|PAN|UID|ITIN|NIT|RUC|INE|DUI|CPF|RG|TIN|CC|CI|NI|L\.E|L\.C|CE"
)
_ID_WORDS = (
    r"dni|nie|nif|cuit|cuil|curp|rfc|ssn|nss|nhs|itin|aadhaa?r|"
    r"c[ée]dula(?: de (?:identidad|ciudadan[ií]a|extranjer[ií]a))?|social security(?: card)?|"
    r"seguridad social|national insurance|ni number|aadhaa?r(?: card)?|pan card|passport|"
    r"pasaporte|passeport|passp[o0]rt|driving licen[cs]e|driver'?s licen[cs]e|licencia de conducir|"
    r"carn[eé]t? de conducir|permiso de conducir|brevete|tax id|taxpayer id|clave de elector|"
    r"credencial de elector|documento(?: nacional)? de identidad|identity card|id card|"
    r"reg(?:istration)?\.? no|matr[ií]cula|colegiad[oa]|driver license|licen[cs]e no|"
    r"c[ée]d\.? prof\.?|c[ée]dula profesional|ration card|libreta c[ií]vica|passaport|"
    r"national id|n[uú]mero de identificaci[oó]n|identificaci[oó]n|documento"
)
_BANK_WORDS = (
    r"(?i:cuenta(?: de ahorros| corriente| sueldo| bancaria)?|account(?: number| no\.?)?|"
    r"acct|iban|cbu|cvu|clabe|cci|sort code|routing number|n[uú]mero de cuenta)"
)
_MEDICAL_WORDS = (
    r"MRN|MBI|NHC|HC|H\.C|CIP|UHID|GHIC|ABHA|TSI|(?i:mrn|nhc|hosp\.? no|hospital number|"
    r"afiliaci[oó]n|enrollee id|ficha cl[ií]nica|autogenerado|derechohabiente|medical record|historia cl[ií]nica|n[uú]mero de historia|afiliad[oa]|member id|"
    r"membership|member|policy|p[oó]liza|patient id|id de paciente|tarjeta sanitaria|"
    r"health card|insurance id|subscriber id|expediente cl[ií]nico|n[uú]mero de socio|socio)"
)
_CONNECTORS = (
    r"(?:\s{0,3}[:#.,ºª°()-]*[ \t]*(?i:n[º°o0]|n[o0]|nro|n|num|number|n[uú]mero|is|es|was|era|de|del|of|"
    r"el|la|su|my|mi|his|her|their)?\b\.?){0,3}[ \t]*[:#]?[ \t]*"
)
_PROSE_ID = re.compile(
    rf"(?<![\w.-])(?:(?P<nat>(?:{_ID_ACRONYMS})\.?|(?i:{_ID_WORDS}))|(?P<med>{_MEDICAL_WORDS})"
    rf"|(?P<bank>{_BANK_WORDS}))"
    rf"(?![\w]){_CONNECTORS}(?:[A-Z][a-z]+[ \t]+)?(?=[A-Za-z0-9/ -]{{0,12}}\d)"
)


def prose_id_fields(text: str) -> Iterator[Field]:
    """Identifiers named in running text, without a ``:`` (see ``_PROSE_ID``)."""
    for match in _PROSE_ID.finditer(text):
        kind = NATIONAL_ID if match.group("nat") else MEDICAL_ID
        kind = IBAN_CODE if match.group("bank") else kind
        line_end = text.find("\n", match.end())
        yield Field(match.group(), kind, match.end(), len(text) if line_end == -1 else line_end)


def _encoded_value_span(field: Field, text: str, lexicon: NameLexicon) -> Span | None:
    """A form-encoded value (``nombre=Xo%C3%A1n``, ``tlf=%2B34+698+41``): checked decoded,
    reported as the whole raw value (what a redaction must replace)."""
    raw = text[field.value_start : field.value_end]
    decoded = unquote_plus(raw)
    probe = replace(field, value_start=0, value_end=len(decoded), form=False)
    span = value_span(probe, decoded, lexicon)
    if span is None or (span[1] - span[0]) < 0.6 * len(decoded.strip()):
        return None
    return field.value_start, field.value_end


def context_findings(text: str, lexicon: NameLexicon) -> tuple[list[Finding], list[Span]]:
    """Findings typed by their labels or headers, and the KEEP spans of non-personal fields."""
    findings: list[Finding] = []
    keep: list[Span] = []
    for field in (*labelled_fields(text), *table_fields(text), *prose_id_fields(text)):
        encoded = field.form and (
            "%" in text[field.value_start : field.value_end]
            or "+" in text[field.value_start : field.value_end]
        )
        span = (
            _encoded_value_span(field, text, lexicon)
            if encoded
            else value_span(field, text, lexicon)
        )
        if span is None and field.entity_type == NATIONAL_ID:
            span = _company_tax_number(field, text)  # kept: a company's, under a tax label
            field = replace(field, entity_type=KEEP) if span is not None else field
        if span is None or span[1] <= span[0]:
            continue
        if field.entity_type == KEEP:
            keep.append(span)
        else:
            findings.append(Finding(*span, field.entity_type, LABEL_SCORE, "label"))
    return findings, keep
