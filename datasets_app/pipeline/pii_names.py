"""Person-name heuristics and NER false-positive filters (English and Spanish).

Heuristics (``find_person_names``) catch names the small spaCy models miss:
salutations ("Hi Mark", "Estimada Sra. López"), honorifics ("Dr. Smith",
"Dña. Pilar"), labelled fields ("Patient: JOHN SMITH", "Nombre: ..."),
signature lines after a closing ("Regards,\\nAna Torres") and a gazetteer rule
(a known first name followed by surname-like capitalised words).

Filters (``clean_ner_span``) trim salutation words that the Spanish model glues
to names ("Hola María" -> "María"), drop single capitalised common words and
organisation/street-like spans, and map entity labels to canonical types.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from datasets_app.pipeline.pii_lexicon import NEVER_PERSON, NON_NAME_TOKENS, NameLexicon
from datasets_app.pipeline.pii_types import ADDRESS, LOCATION, PERSON, Finding

UPPER = "A-ZÁÉÍÓÚÑÜÀÈÌÒÙÇÂÊÎÔÛÄËÏÖ"
LOWER = "a-záéíóúñüàèìòùçâêîôûäëïöß"
TOKEN = rf"(?:[{UPPER}]['’])?[{UPPER}][{LOWER}]+(?:[{UPPER}][{LOWER}]+)?(?:-[{UPPER}][{LOWER}]+)?"
CONNECTOR = r"(?:de(?:[ \t]+(?:la|las|los))?|del|y|i|van(?:[ \t]+der)?|von|da|di|le|du|dos|das)"
INITIAL = rf"[{UPPER}]\."
NAME = rf"{TOKEN}(?:[ \t]+(?:{CONNECTOR}[ \t]+)?(?:{TOKEN}|{INITIAL}(?=[ \t]+[{UPPER}]))){{0,4}}"
CAPS_CONNECTOR = r"(?:DE(?:[ \t]+(?:LA|LAS|LOS))?|DEL|Y|I|VAN|VON|DA|DI)"
CAPS_TOKEN = rf"[{UPPER}]{{2,}}(?:-[{UPPER}]{{2,}})?"
NAME_CAPS = (
    rf"{CAPS_TOKEN}(?:[ \t]+(?:[{UPPER}]\.[ \t]+|{CAPS_CONNECTOR}[ \t]+)?{CAPS_TOKEN}){{1,4}}"
)

_CUE_GREETING = (
    r"hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening)|thanks|thank you|"
    r"many thanks|cheers|regards|best|sincerely|hola|estimad[oa]s?|querid[oa]s?|"
    r"buen(?:os|as) (?:d[ií]as|tardes|noches)|gracias|muchas gracias|saludos|un saludo|"
    r"atentamente|cordialmente|bienvenid[oa]|welcome|congratulations|enhorabuena|felicidades"
)
_TITLES = r"Mr|Mrs|Ms|Mx|Miss|Dr|Dra|Prof|Profa|Sr|Sra|Srta|Sres|Dña|Dª|Don|Doña|D|Lic|Ing|Fr|Rev"
_LABELS = (
    r"name|full name|first name|last name|surname|patient|patient name|employee|employee name|"
    r"customer|customer name|client|contact|contact person|manager|supervisor|requester|"
    r"requested by|reported by|submitted by|created by|approved by|assigned to|assignee|owner|"
    r"attn|from|to|cc|signed|signed by|candidate|applicant|tenant|guarantor|beneficiary|"
    r"account holder|cardholder|physician|nurse|attending|referred by|emergency contact|"
    r"nombre|nombre completo|nombre y apellidos|apellidos|paciente|empleado|empleada|"
    r"trabajador|trabajadora|cliente|contacto|responsable|solicitante|titular|firmado|"
    r"firmado por|atendido por|médico|medico|doctor|doctora|enfermer[oa]|candidat[oa]|"
    r"beneficiari[oa]|inquilin[oa]|avalista|remitente|destinatario|de|para|asignado a"
)
_CLOSINGS = (
    r"best regards|kind regards|warm regards|regards|best wishes|best|thanks|thank you|"
    r"many thanks|cheers|sincerely|yours truly|yours sincerely|yours|talk soon|"
    r"un saludo|saludos(?: cordiales)?|atentamente|cordialmente|un abrazo|gracias|"
    r"muchas gracias|besos|hasta pronto|--"
)
_GREETING_RE = re.compile(
    rf"(?i:\b(?:{_CUE_GREETING}))[ \t]*,?[ \t]+(?:(?:{_TITLES})\.?[ \t]+)?({NAME})"
)
_COMPANY_RE = re.compile(r"&|\bS\.\s?(?:L|A|Coop|C)\b|\b(?:Inc|LLC|Ltd|PLC|GmbH|S\.?L\.?U?)\b\.?")
_TITLE_RE = re.compile(rf"\b(?:{_TITLES})(?:\.|\b)[ \t]*({NAME})")
_LABEL_HEAD_RE = re.compile(rf"(?i)\b(?:{_LABELS})[ \t]*$")
_LABEL_VALUE_RE = re.compile(rf"[ \t]*({NAME}|{NAME_CAPS})")
_LABEL_SEPARATOR_RE = re.compile(r"[:=]")
_SIGNATURE_RE = re.compile(
    rf"(?im)^[ \t]*(?:{_CLOSINGS})[ \t]*[,.!]*[ \t]*\n(?:[ \t]*\n)?[ \t]*((?-i:{NAME}|{NAME_CAPS}))[ \t]*(?:$|[,|(–-])"
)
_RUN_RE = re.compile(NAME)
_CONNECTOR_WORDS = frozenset("de del la las los y i van von da di le du dos das der".split())
_CAPS_RUN_RE = re.compile(rf"\b{NAME_CAPS}\b")
_TOKEN_RE = re.compile(TOKEN + rf"|[{UPPER}]{{2,}}")
_LEADING_CUE_RE = re.compile(
    rf"(?:(?i:{_CUE_GREETING})|(?:{_TITLES})\.?)[ \t,]+(?=[{UPPER}])|[^\w]+"
)


def _tokens(span_text: str) -> list[str]:
    return _TOKEN_RE.findall(span_text)


def _plausible_name(span_text: str, lexicon: NameLexicon, *, strict: bool) -> bool:
    """Is a captured capitalised phrase a person name?

    Rejects phrases whose first token is a common word that is not a known
    name ("Team", "Customer"), or that contain organisation/street words.
    ``strict`` additionally requires every token to be a known name or an
    uncommon word (used for cues weaker than a greeting or honorific).
    """
    tokens = _tokens(span_text)
    if not tokens or any(t.lower() in NON_NAME_TOKENS for t in tokens):
        return False
    if lexicon.is_common(tokens[0]):
        return False
    if strict:
        return lexicon.is_name(tokens[0]) or not any(lexicon.is_common(t) for t in tokens)
    return True


def _trim_to_names(text: str, start: int, end: int, lexicon: NameLexicon) -> tuple[int, int]:
    """Cut a captured phrase after the last token that still looks like part of a name."""
    keep_end = start
    for match in _TOKEN_RE.finditer(text, start, end):
        word = match.group()
        if match.start() > start and lexicon.is_common(word) and not lexicon.is_name(word):
            break
        keep_end = match.end()
    return start, keep_end


def _label_values(text: str) -> Iterator[re.Match[str]]:
    """Capitalised values after ``Label:`` fields; the label is found backwards from each colon
    so the long label alternation only runs next to ``:``/``=`` characters."""
    for separator in _LABEL_SEPARATOR_RE.finditer(text):
        position = separator.start()
        if _LABEL_HEAD_RE.search(text, max(0, position - 40), position):
            value = _LABEL_VALUE_RE.match(text, position + 1)
            if value:
                yield value


def _cue_findings(text: str, lexicon: NameLexicon) -> Iterator[Finding]:
    """Names after greetings, honorifics, field labels and closings."""
    cues = (
        (_GREETING_RE.finditer(text), "name_greeting", False, 0.85),
        (_TITLE_RE.finditer(text), "name_title", False, 0.85),
        (_label_values(text), "name_label", True, 0.85),
        (_SIGNATURE_RE.finditer(text), "name_signature", True, 0.8),
    )
    for matches, recognizer, strict, score in cues:
        for match in matches:
            start, end = _trim_to_names(text, *match.span(1), lexicon)
            if end > start and _plausible_name(text[start:end], lexicon, strict=strict):
                yield Finding(start, end, PERSON, score, recognizer)


def _gazetteer_span(
    text: str, tokens: list[re.Match[str]], lexicon: NameLexicon
) -> tuple[int, int, int] | None:
    """(start, end, name-token count) of the name inside a capitalised run, or None."""
    for index, token in enumerate(tokens):
        if token.group().lower() not in lexicon.first_names:
            continue
        count, end = 1, token.end()
        for follower in tokens[index + 1 :]:
            word = follower.group()
            if word.lower() in _CONNECTOR_WORDS:
                continue
            if lexicon.is_common(word) and word.lower() not in lexicon.surnames:
                break
            count, end = count + 1, follower.end()
        return token.start(), end, count
    return None


def _gazetteer_findings(text: str, lexicon: NameLexicon) -> Iterator[Finding]:
    """A known first name followed by surname-like words; a lone unusual first name."""
    for run_re in (_RUN_RE, _CAPS_RUN_RE):
        for run in run_re.finditer(text):
            tokens = list(_TOKEN_RE.finditer(text, run.start(), run.end()))
            words = [t.group().lower() for t in tokens]
            if any(w in NON_NAME_TOKENS and w not in lexicon.surnames for w in words):
                continue
            found = _gazetteer_span(text, tokens, lexicon)
            if found is None:
                continue
            start, end, count = found
            if _COMPANY_RE.search(text, end, min(len(text), end + 8)) or _company_tail(text, end):
                continue
            if count >= 2:
                yield Finding(start, end, PERSON, 0.8, "name_gazetteer")
            elif run_re is _RUN_RE and not lexicon.in_dictionary(text[start:end]):
                yield Finding(start, end, PERSON, 0.6, "name_gazetteer")


def _company_tail(text: str, end: int) -> bool:
    """Is the capitalised run followed by a company word ("Grant Ltd", "Gil y Asociados")?"""
    following = re.match(
        r"[ \t,]+(?:y[ \t]+|and[ \t]+|&[ \t]*)?([A-Za-zÁÉÍÓÚáéíóúñ.]+)", text[end : end + 30]
    )
    return bool(following) and following.group(1).lower().rstrip(".") in NON_NAME_TOKENS


_HONORIFIC_BEFORE = re.compile(
    r"(?i:\b(?:Mr|Mrs|Ms|Mx|Miss|Dr|Dra|Prof|Sr|Sra|Srta|Dña|Don|Doña)\.?|\bD\.|Dª)[ \t]+$"
)
_SUFFIX_AFTER = re.compile(r",?[ \t]+(?:(?i:Jr|Sr|Esq|PhD)\b\.?|(?:II|III|IV|MD|DDS|DVM)\b)")


def with_honorifics(text: str, finding: Finding) -> Finding:
    """Extend a PERSON span over an adjacent title ("Dr. ") and suffix (", MD", " Jr.")."""
    start, end = finding.start, finding.end
    before = _HONORIFIC_BEFORE.search(text, max(0, start - 8), start)
    if before:
        start = before.start()
    after = _SUFFIX_AFTER.match(text, end)
    if after:
        end = after.end()
    if (start, end) == (finding.start, finding.end):
        return finding
    return Finding(start, end, finding.entity_type, finding.score, finding.recognizer)


def find_person_names(text: str, lexicon: NameLexicon) -> list[Finding]:
    """All heuristic PERSON findings in ``text`` (may overlap each other and NER)."""
    return [*_cue_findings(text, lexicon), *_gazetteer_findings(text, lexicon)]


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop leading greeting/honorific words and surrounding punctuation; drop a trailing 's."""
    while True:
        match = _LEADING_CUE_RE.match(text, start, end)
        if not match or match.end() == start:
            break
        start = match.end()
    while end > start and not text[end - 1].isalpha():
        end -= 1
    if text[start:end].endswith(("'s", "’s")):
        end -= 2
    return start, end


def _trim_common_edges(text: str, start: int, end: int, lexicon: NameLexicon) -> tuple[int, int]:
    """Drop leading/trailing ordinary words the model glued to a name ("Reunión Ana Gil")."""
    tokens = [m for m in _TOKEN_RE.finditer(text, start, end)]
    while len(tokens) > 1 and lexicon.is_common(tokens[0].group()):
        tokens.pop(0)
    while len(tokens) > 1 and lexicon.is_common(tokens[-1].group()):
        tokens.pop()
    if not tokens:
        return start, end
    return tokens[0].start(), tokens[-1].end()


def _never_person(word: str, lexicon: NameLexicon) -> bool:
    """Greeting/group/calendar words, unless they are also names ("April", "Abril")."""
    return word.lower() in NEVER_PERSON and not lexicon.is_name(word)


def _person_ok(value: str, lexicon: NameLexicon) -> bool:
    tokens = _tokens(value)
    if not tokens or len(value.split()) > 6 or re.search(r"[\d@_/\\|#=<>]", value):
        return False
    if _COMPANY_RE.search(value):
        return False
    if any(t.lower() in NON_NAME_TOKENS or _never_person(t, lexicon) for t in tokens):
        return False
    if len(tokens) == 1:
        return len(tokens[0]) >= 2 and not lexicon.is_common(tokens[0])
    return any(lexicon.is_name(t) or not lexicon.is_common(t) for t in tokens)


def _location_ok(value: str, lexicon: NameLexicon) -> bool:
    tokens = _tokens(value)
    if not tokens or re.search(r"[@_/\\|#=<>]", value) or _COMPANY_RE.search(value):
        return False
    if len(tokens) == 1 and value.isupper() and len(value) <= 3:
        return False  # "MD", "NY": degrees and bare state codes identify no one
    if any(t.lower() in NON_NAME_TOKENS for t in tokens):
        return False
    if any(_never_person(t, lexicon) for t in tokens):
        return False
    return not (len(tokens) == 1 and lexicon.is_common(tokens[0]) and not value.isupper())


def clean_ner_span(
    text: str, start: int, end: int, entity_type: str, lexicon: NameLexicon
) -> Finding | None:
    """Filter and trim one NER entity (already mapped to PERSON or LOCATION)."""
    if _company_tail(text, end) or _COMPANY_RE.match(text, end, min(len(text), end + 6)):
        return None
    start, end = _strip_span(text, start, end)
    if entity_type == PERSON:
        start, end = _trim_common_edges(text, start, end, lexicon)
    if end - start < 2:
        return None
    value = text[start:end]
    if entity_type == PERSON:
        return (
            Finding(start, end, PERSON, 0.85, "spacy_ner") if _person_ok(value, lexicon) else None
        )
    if re.search(r"\d", value):
        return Finding(start, end, ADDRESS, 0.6, "spacy_ner")
    return Finding(start, end, LOCATION, 0.7, "spacy_ner") if _location_ok(value, lexicon) else None
