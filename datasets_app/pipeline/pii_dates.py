"""Calendar dates as people write them, in English and Spanish.

Numeric (``1951-04-19``, ``19/04/1951``, ``19.04.51``, ``4/19/1951``), with month names
(``April 19th, 1951``, ``19 Apr 1951``, ``19-Apr-1951``, ``5 de mayo de 1979``, ``mayo 5,
1979``, ``Jan 3, '66``) and spelled-out days (``the nineteenth of April 1951``, ``el cinco de mayo de
1979``, ``primero de enero de 1960``). Only dates with a year: a birth date without one
("born on 3 May") identifies little and is mostly an ordinary date.

``DATE`` finds dates anywhere; ``DATE_AT_START`` matches one at a given position (what a
label's value starts with); group 1 is the date in both.
"""

from __future__ import annotations

import re

MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|enero|febrero|marzo|abril|"
    "mayo|junio|julio|agosto|se?ptiembre|octubre|noviembre|diciembre|ene|abr|ago|dic"
)
_ORDINAL_WORDS = (
    "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    "thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|"
    "twenty[- ](?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)|thirtieth|"
    "thirty[- ]first"
)
_SPANISH_DAYS = (
    "primero|uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce|trece|catorce|"
    "quince|diecis[eé]is|diecisiete|dieciocho|diecinueve|veinte|veinti(?:uno|d[oó]s|tr[eé]s|"
    "cuatro|cinco|s[eé]is|siete|ocho|nueve)|treinta(?: y uno)?"
)
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th|º|°|o)?|{_ORDINAL_WORDS}|{_SPANISH_DAYS})"
_TENS_EN = r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
_UNITS_EN = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_TEENS_EN = r"(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
_TENS_ES = r"(?:veinte|treinta|cuarenta|cincuenta|sesenta|setenta|ochenta|noventa)"
_UNITS_ES = r"(?:uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve)"
_YEAR_WORDS = (
    rf"nineteen[- ](?:{_TENS_EN}(?:[- ]{_UNITS_EN})?|{_TEENS_EN}|oh[- ]{_UNITS_EN})"
    rf"|two thousand(?:[- ]and)?(?:[- ](?:{_UNITS_EN}|{_TEENS_EN}|{_TENS_EN}(?:[- ]{_UNITS_EN})?))?"
    rf"|(?:mil novecientos|dos mil)(?:[ ](?:{_TENS_ES}(?:[ ]y[ ]{_UNITS_ES})?|{_UNITS_ES}|diez|once|"
    rf"doce|trece|catorce|quince|dieci\w+|veinti\w+))?"
    rf"|{_TENS_ES}(?:[ ]y[ ]{_UNITS_ES})?"
)
_YEAR = rf"(?:1[89]\d\d|20[0-4]\d|[’']\d\d|{_YEAR_WORDS})"
_ROMAN_MONTH = r"(?:XII|XI|X|IX|VIII|VII|VI|V|IV|III|II|I)"
_BODY = (
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"  # ISO 8601
    r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})"
    r"|\d{1,2} / \d{1,2} / \d{4}"  # a form's boxes: "07 / 14 / 1966"
    rf"|\d{{1,2}}[-/. ]{_ROMAN_MONTH}[-/. ](?:\d{{4}}|\d{{2}})"  # "12-III-2015"
    rf"|\d{{1,2}}[-/. ](?:{MONTHS})\.?[-/. ](?:\d{{4}}|\d{{2}})"
    rf"|(?:{MONTHS})\.?\s+(?:the\s+)?{_DAY},?\s+(?:of\s+|de\s+|del\s+)?{_YEAR}"
    rf"|(?:the\s+|el\s+|d[ií]a\s+)?{_DAY}\s+(?:day\s+)?(?:of\s+|de\s+)?(?:{MONTHS})\.?,?\s+"
    rf"(?:of\s+|de\s+|del\s+)?(?:(?:the\s+)?year\s+|(?:el\s+)?a[ñn]o\s+)?{_YEAR}"
    rf"|{_DAY}\s+de\s+(?:{MONTHS})\s+del\s+\d\d(?!\d)"  # "4 de marzo del 52"
)
# A date right after the word for being born: a birth whatever its year ("born 4 Nov 2024",
# "nació el 3 de marzo de 2025"), where a date of 2024 or later is otherwise an event.
BORN_DATE = re.compile(
    rf"(?i)\b(?:born|was born on|b\.|naci[oó]|nac[ií]|nacid[oa]|naciste|d\.?o\.?b\.?)[ \t:]*"
    rf"(?:on[ \t]+|el[ \t]+|the[ \t]+|d[ií]a[ \t]+)?({_BODY})(?![\w/-]|\.\d)"
)
DATE = re.compile(rf"(?i)(?<![\w/.-])({_BODY})(?![\w/-]|\.\d)")
DATE_AT_START = re.compile(rf"(?i)[ \t]*({_BODY})(?![\w/-]|\.\d)")


# A question or prompt for a birth date at the end of its line: "abeg send your full date of
# birth", "¿Fecha de nacimiento?", "DOB please:".
_BIRTH_PROMPT = re.compile(
    r"(?im)(?:date of birth|birth ?date|d\.?o\.?b\.?|birthday|born|fecha de nacimiento|"
    r"fecha de nac\.?|nacimiento|naixement|cumplea[ñn]os)[^\n]{0,80}$"
)
# The next line's answer: an optional speaker label ("Ebiere:", "CLIENTE:", "[10:02] ana:"),
# then the date first.
_ANSWER_START = re.compile(
    r"[ \t]*(?:\[[^\]\n]{1,20}\][ \t]*)?(?:([^\W\d_][\w.' -]{0,30}):[ \t]*)?"
    r"(?:[^\W\d_][\w'’.-]*(?:[ \t]+[^\W\d_][\w'’.-]*){0,4},[ \t]+(?=\w))?"  # "Ana Gil, <date>"
    r"(?i:(?:it'?s|es|el|is|on|my dob is|mi fecha es|s[ií]|yes|yeah|ok|vale|pues)[ \t,]+){0,3}"
)


def answered_birth_dates(text: str) -> list[tuple[int, int]]:
    """Spans of dates that answer a birth-date prompt on the line before: the first thing on
    the next non-blank line (after a speaker label) is a date with a year. Dates anywhere else
    on that line, or further down, are not taken (an appointment date is no birth)."""
    spans = []
    for prompt in _BIRTH_PROMPT.finditer(text):
        position = prompt.end()
        while position < len(text) and text[position] in "\r\n \t":
            position += 1
        if text.count("\n", prompt.end(), position) > 1 or position >= len(text):
            continue  # a blank line between: a new topic
        lead = _ANSWER_START.match(text, position)
        label = lead.group(1) if lead and lead.group(1) else None
        if label is not None and _typed_label(label):
            continue  # "Appointment: 12/03/1999" is a field of its own, not the answer
        date = DATE_AT_START.match(text, lead.end() if lead else position)
        if date is not None:
            spans.append(date.span(1))
    return spans


def recent_year(value: str) -> bool:
    """A date of 2024 or later: a recent event, not someone's birth (labels still say so)."""
    return re.search(r"(?<!\d)20(?:2[4-9]|[3-9]\d)(?!\d)", value) is not None


def _typed_label(label: str) -> bool:
    """A field label whose type is not a person (a speaker label names a person or a role)."""
    from datasets_app.pipeline.pii_labels import label_type

    if _EVENT_LABEL.search(label):
        return True
    return label_type(label) not in (None, "PERSON", "DATE_OF_BIRTH")


# Labels of dates that are events, not births.
_EVENT_LABEL = re.compile(
    r"(?i)\b(?:appointment|cita|date|fecha|visit|visita|admission|admitted|ingreso|discharge|"
    r"alta|due|vence|vencimiento|expiry|expires|issued|emitid[oa]|emisi[oó]n|start|inicio|"
    r"end|fin|deadline|plazo|delivery|entrega|payment|pago|order|pedido|updated|created)\b"
)
