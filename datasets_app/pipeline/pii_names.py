"""Person-name heuristics and NER false-positive filters (English and Spanish).

Heuristics (``find_person_names``) catch names the small spaCy models miss:
salutations ("Hi Mark", "Estimada Sra. López", "hola wojciech"), honorifics
("Dr. Smith", "Dña. Pilar"), signature lines after a closing ("Regards,\\nAna
Torres"), speech verbs ("dijo marta", "Kwame said"), speaker labels of chats
and transcripts, @handles, a gazetteer rule (a known first name followed by
surname-like capitalised words) and lower-case given names in conversation.
Labelled fields ("Patient: JOHN SMITH", "Nombre: ...") are ``pii_context``'s.

Filters (``clean_ner_span``) trim salutation words that the Spanish model glues
to names ("Hola María" -> "María"), drop single capitalised common words and
organisation/street-like spans, and map entity labels to canonical types.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from datasets_app.pipeline.pii_labels import label_type
from datasets_app.pipeline.pii_lexicon import (
    NEVER_PERSON,
    NON_NAME_TOKENS,
    NameLexicon,
)
from datasets_app.pipeline.pii_types import ADDRESS, LOCATION, PERSON, Finding

Span = tuple[int, int]


def _latin_letters(predicate: object) -> str:
    """A character-class body of the Latin letters (Basic, Latin-1, Extended-A/B and
    Additional: Polish ł, Turkish ş, Vietnamese ễ, Czech ř...) for which ``predicate`` holds,
    written as ranges."""
    codes = [
        code
        for block in ((0x41, 0x24F), (0x1E00, 0x1EFF))
        for code in range(block[0], block[1] + 1)
        if chr(code).isalpha() and predicate(chr(code))  # type: ignore[operator]
    ]
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


UPPER = _latin_letters(str.isupper)
LOWER = _latin_letters(str.islower)
TOKEN = rf"(?:[{UPPER}]['’])?[{UPPER}][{LOWER}]+(?:[{UPPER}][{LOWER}]+)?(?:-[{UPPER}][{LOWER}]+)?"
CONNECTOR = r"(?:de(?:[ \t]+(?:la|las|los))?|del|y|i|van(?:[ \t]+der)?|von|da|di|le|du|dos|das)"
INITIAL = rf"[{UPPER}]\."
NAME = (
    rf"{TOKEN}(?:[ \t]+(?:{CONNECTOR}[ \t]+)?(?:{TOKEN}|{INITIAL}(?=[ \t]+[{UPPER}]))){{0,4}}"
    rf"(?:[ \t]+{INITIAL}(?![\w]))?"  # a trailing maternal-surname initial: "Rodrigo Sepúlveda B."
)
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
_TITLES = (
    r"Mr|Mrs|Ms|Mx|Miss|Dr|Dra|Prof|Profa|Sr|Sra|Srta|Sres|Dña|Dª|Don|Doña|D|Lic|Ing|Fr|Rev|"
    r"Sri|Shri|Smt|Kum|Alhaji|Alhaja|Chief|Engr|Barr|Hon|Mallam|Mme|Mlle|Herr|Frau|Sig"
)
_CLOSINGS = (
    r"best regards|kind regards|warm regards|regards|best wishes|best|thanks|thank you|"
    r"many thanks|cheers|sincerely|yours truly|yours sincerely|yours|talk soon|"
    r"un saludo|saludos(?: cordiales)?|atentamente|cordialmente|un abrazo|gracias|"
    r"muchas gracias|besos|hasta pronto|--"
)
_COMPANY_RE = re.compile(r"&|\bS\.\s?(?:L|A|Coop|C)\b|\b(?:Inc|LLC|Ltd|PLC|GmbH|S\.?L\.?U?)\b\.?")
_TITLE_RE = re.compile(
    rf"\b(?i:{_TITLES})(?:\.|\b)[ \t]*({NAME}|{CAPS_TOKEN}(?:[ \t]+{CAPS_TOKEN}){{0,3}})"
)
_NAME_AFTER_RE = re.compile(rf"({NAME})")
_SIGNATURE_RE = re.compile(
    rf"(?im)^[ \t>]*(?:{_CLOSINGS})[ \t]*[,.!]*[ \t]*\n(?:[ \t>]*\n)?[ \t>]*((?-i:{NAME}|{NAME_CAPS}))[ \t]*(?:$|[,|(–-])"
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


def _greeting_names(text: str) -> Iterator[re.Match[str]]:
    """Capitalised names right after a greeting ("Hola María", "Dear Dr. Okafor")."""
    for greeting in _GREETING_ANY_RE.finditer(text):
        name = _NAME_AFTER_RE.match(text, greeting.end())
        if name is not None:
            yield name


def _cue_findings(text: str, lexicon: NameLexicon) -> Iterator[Finding]:
    """Names after greetings, honorifics, field labels and closings."""
    cues = (
        (_greeting_names(text), "name_greeting", False, 0.85),
        (_TITLE_RE.finditer(text), "name_title", False, 0.85),
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
        count, end, first = 1, token.end(), index
        while first > 0 and not lexicon.is_common(tokens[first - 1].group()):
            first, count = first - 1, count + 1  # "Nguyen Van Minh": surnames before
        for follower in tokens[index + 1 :]:
            word = follower.group()
            if word.lower() in _CONNECTOR_WORDS:
                continue
            if lexicon.is_common(word) and not lexicon.maybe_name(word):
                break
            count, end = count + 1, follower.end()
        return tokens[first].start(), end, count
    return _surname_run(tokens, lexicon)


def _surname_run(tokens: list[re.Match[str]], lexicon: NameLexicon) -> tuple[int, int, int] | None:
    """A run of two to four capitalised words, none an ordinary word, at least one a known
    name: "Nguyen Van Minh", "Okonkwo Chidi", "Kowalczyk Anna" (surname first, or given
    names the lexicon lacks)."""
    words = [t.group() for t in tokens if t.group().lower() not in _CONNECTOR_WORDS]
    if not 2 <= len(words) <= 4 or any(lexicon.is_common(w) for w in words):
        return None
    if not any(lexicon.is_name(part) for w in words for part in w.split("-")):
        return None
    return tokens[0].start(), tokens[-1].end(), len(words)


def _gazetteer_findings(text: str, lexicon: NameLexicon) -> Iterator[Finding]:
    """A known first name followed by surname-like words; a lone unusual first name."""
    for run_re in (_RUN_RE, _CAPS_RUN_RE):
        for run in run_re.finditer(text):
            for tokens in _people_in_run(text, list(_TOKEN_RE.finditer(text, *run.span()))):
                yield from _gazetteer_people(text, tokens, run_re is _RUN_RE, lexicon)


_AND_GAP = re.compile(r"(?i)\s(?:y|e|i|and|&)\s")


def _people_in_run(text: str, tokens: list[re.Match[str]]) -> Iterator[list[re.Match[str]]]:
    """Split a capitalised run at "y"/"and" ("Ana Gil y Luis Mora" is two people)."""
    start = 0
    for index in range(1, len(tokens)):
        if _AND_GAP.search(text, tokens[index - 1].end(), tokens[index].start()):
            yield tokens[start:index]
            start = index
    yield tokens[start:]


def _gazetteer_people(
    text: str, tokens: list[re.Match[str]], mixed_case: bool, lexicon: NameLexicon
) -> Iterator[Finding]:
    """The gazetteer finding of one person's run of capitalised words, if any."""
    words = [t.group().lower() for t in tokens]
    if not tokens or any(w in NON_NAME_TOKENS and w not in lexicon.surnames for w in words):
        return
    found = _gazetteer_span(text, tokens, lexicon)
    if found is None:
        return
    start, end, count = found
    if _COMPANY_RE.search(text, end, min(len(text), end + 8)) or _company_tail(text, end):
        return
    if count >= 2:
        yield Finding(start, end, PERSON, 0.8, "name_gazetteer")
    elif mixed_case and not lexicon.in_dictionary(text[start:end]):
        yield Finding(start, end, PERSON, 0.6, "name_gazetteer")


_INITIAL_SURNAME_RE = re.compile(
    rf"(?<![\w.])((?:[{UPPER}]\.[ \t]?){{1,3}}[ \t]?(?:{TOKEN}|{CAPS_TOKEN})(?:[ \t]+[{UPPER}]\.)?)"
)


def _initial_findings(text: str, lexicon: NameLexicon) -> Iterator[Finding]:
    """An initial and a surname: "J. Smith", "M.A. López" (the surname not an ordinary word)."""
    for match in _INITIAL_SURNAME_RE.finditer(text):
        surname = _TOKEN_RE.findall(match.group(1))[-1]
        if not lexicon.is_common(surname) and surname.lower() not in NON_NAME_TOKENS:
            yield Finding(*match.span(1), PERSON, 0.75, "name_initial")


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


# A second surname or family name written as its initial: "Rodrigo Sepúlveda B.", "Lewis J."
_INITIAL_AFTER = re.compile(r"[ \t]+[A-ZÁÉÍÓÚÑÜ]\.(?!\w|[ \t]*[A-ZÁÉÍÓÚÑ][a-z]*\.)")


def with_honorifics(text: str, finding: Finding) -> Finding:
    """Extend a PERSON span over an adjacent title ("Dr. "), suffix (", MD", " Jr.") and a
    trailing initial (" B.")."""
    start, end = finding.start, finding.end
    before = _HONORIFIC_BEFORE.search(text, max(0, start - 8), start)
    if before:
        start = before.start()
    after = _SUFFIX_AFTER.match(text, end)
    if after:
        end = after.end()
    initial = _INITIAL_AFTER.match(text, end)
    if initial and text[end - 1 : end].isalpha():
        end = initial.end()
    if (start, end) == (finding.start, finding.end):
        return finding
    return Finding(start, end, finding.entity_type, finding.score, finding.recognizer)


_NAME_TOKEN = re.compile(r"[^\W\d_][^\W\d_'’.-]*(?:['’.-][^\W\d_]+)*\.?")
_CONTRACTION = re.compile(r"(?i)['’](?:s|ve|ll|re|d|t|m)$|^(?:[dl]|qu)['’]")
_NAME_LINK = frozenset(
    "de del la las los y i van von der da di le du dos das e al el bin ibn".split()
)


_COLUMN_GAP = re.compile(r"\t| {3,}")


def name_run(text: str, start: int, end: int, lexicon: NameLexicon, *, strong: bool) -> Span | None:
    """The leading run of name-like words in ``text[start:end]`` (any case), or None.

    A word is name-like when it is a known name, or (``strong``: the label says the value is a
    name) any word that is not an ordinary dictionary word, or a capitalised uncommon word.
    """
    first = last = -1
    names = 0
    for match in _NAME_TOKEN.finditer(text, start, end):
        gap = text[last if last != -1 else start : match.start()]
        separator = gap.strip(" \t")
        if last != -1 and (separator not in ("", ",") or "\n" in gap or _COLUMN_GAP.search(gap)):
            break  # a line break, a tab or a run of spaces separates columns, not name parts
        word = match.group().strip(".")
        if separator == "," and (names > 3 or not (strong or word.lower() in lexicon.first_names)):
            break  # "Gil, Ana" / "PUIGDOMÈNECH VILASECA, MONTSERRAT", not "Ana Gil, NHS No"
        lowered = word.lower()
        if text[match.end() : match.end() + 1] == "@":
            break  # the local part of an e-mail address is the e-mail's
        if first != -1 and lowered in _NAME_LINK:
            continue
        known, uncommon = name_evidence(word, lexicon)
        known = known or (strong and lexicon.maybe_name(word))
        if not strong and not known and word.isupper() and 2 <= len(word) <= 4:
            break  # an acronym ("AGENTE: CFE, buenas tardes"), not a name
        if known or (uncommon and (strong or word[:1].isupper())) or _is_initial(match.group()):
            first = match.start() if first == -1 else first
            last = match.end()
            names += known or uncommon
            if names >= 5:
                break
        else:
            break
    if first == -1 or not names:
        return None
    return first, last


def _is_initial(token: str) -> bool:
    """ "G." or "L": an initial, part of a name next to name words ("G. Bruzzone L.")."""
    return len(token.rstrip(".")) == 1 and token[:1].isupper()


def name_evidence(word: str, lexicon: NameLexicon) -> tuple[bool, bool]:
    """(known name, uncommon word) for a word or a dotted handle such as ``maria.gonzalez``."""
    if _CONTRACTION.search(word):
        return False, False
    parts = [p for p in re.split(r"[.'’-]", word) if p]
    if len(parts) > 1:
        known = any(lexicon.is_name(p) and len(p) > 2 for p in parts)
        return known, known or not all(lexicon.is_common(p) for p in parts)
    known = lexicon.is_name(word) and not (lexicon.is_common(word) and word.islower())
    return known, not lexicon.is_common(word) and len(word) > 1


# Cues that work in any case ("hola wojciech", "thanks priya!", "— dijo marta").
_ANY_WORD = r"[^\W\d_][\w'’.-]*"
_GREETING_ANY_RE = re.compile(
    rf"(?i)\b(?:{_CUE_GREETING})[ \t]*,?[ \t]+(?:(?:{_TITLES})\.?[ \t]+)?(?=[^\W\d_])"
)
_SPEECH_VERBS = (
    r"said|says|told|asked|wrote|replied|answered|added|explained|called|texted|mentioned|"
    r"dijo|dice|comentó|comento|escribió|escribio|preguntó|pregunto|respondió|respondio|"
    r"contestó|contesto|explicó|explico|añadió|añadio|avisó|aviso|llamó|llamo|comenta|"
    r"pregunta|responde|contesta|explica|informa|informó|indicó|indico|señaló|señalo"
)
_INTRO_RE = re.compile(
    r"(?i)\b(?:my name is|my name's|this is|i am|i'm|me llamo|mi nombre es|soy|le habla|"
    r"habla|named|called|llamad[oa]|se llama|su nombre es|his name is|her name is|"
    r"speaking with|hablo con)[ \t]+(?=[^\W\d_])"
)
_ROLE_RE = re.compile(
    r"(?i)\b(?:grandma|grandpa|granny|mama|papa|mum|mom|dad|aunty|auntie|uncle|abuela|abuelo|"
    r"t[ií]a|t[ií]o|manager|rider|driver|watchman|neighbou?r|vecin[oa]|herman[oa]|hij[oa]|"
    r"wife|husband|espos[oa]|nurse|colleague|compañer[oa]|amig[oa]|friend|boss|jef[ea]|"
    r"daughter|son|sister|brother|cousin|prim[oa]|madre|padre|mother|father|nephew|niece|"
    r"sobrin[oa]|cuñad[oa]|suegr[oa]|novi[oa]|boyfriend|girlfriend|partner|pareja|"
    r"technician|t[eé]cnico|courier|mensajero|agent|agente|caller|landlord|tenant|"
    r"inquilin[oa]|portero|conserje|profe|teacher|maestr[oa]|señorita|midwife|partera|"
    r"matrona|receptionist|recepcionista|cashier|cajer[oa]|guard|guardia|vigilante|cleaner|"
    r"supervisor|supervisora|officer|oficial|inspector|inspectora|adjuster|ajustador|"
    r"handler|interpreter|int[eé]rprete|operator|operador|operadora|clerk|tutor|tutora|"
    r"coach|entrenador|pastor|imam|domiciliario|repartidor|chofer|chófer|taxista|"
    r"mechanic|mec[aá]nico|plumber|plomero|fontanero|electrician|electricista|"
    r"caretaker|cuidador|cuidadora|nanny|niñera|housekeeper|empleada)[ \t]*,?[ \t]+(?=[^\W\d_])"
)
_SAID_AFTER_RE = re.compile(rf"(?i)(?<![\w-])(?:{_SPEECH_VERBS})[ \t]+(?=[^\W\d_])")
_SPEECH_VERB_RE = re.compile(rf"(?i)(?<=[^\W\d_][ \t])(?:{_SPEECH_VERBS})\b")
_WORDS_BEFORE_RE = re.compile(rf"({_ANY_WORD}(?:[ \t]+{_ANY_WORD}){{0,2}})[ \t]+$")
_SPEAKER_RE = re.compile(
    r"(?m)^[ \t]*(?:\[[^\]\n]{1,30}\][ \t]*|\(?\d{1,2}:\d{2}(?::\d{2})?\)?[ \t]*"
    r"(?:[AaPp]\.?[Mm]\.?)?[ \t]*[-–]?[ \t]*)?<?@?"
    r"([^\W\d_][\w.'’-]*(?:[ \t]+[^\W\d_][\w.'’-]*){0,2})>?[ \t]*(?:\d{1,2}[A-Za-z]?[ \t]*)?"
    r"(?:\(([^)\n]{1,30})\))?"
    r"[ \t]*:(?!//|\d)"
)
_HANDLE_RE = re.compile(r"(?<![\w.@])@([A-Za-z][\w.-]{1,30}[A-Za-z0-9])")


def _any_case_cues(text: str, lexicon: NameLexicon) -> Iterator[Finding]:
    """Names in any case after greetings and speech verbs, before speech verbs."""
    for match in (
        *_GREETING_ANY_RE.finditer(text),
        *_SAID_AFTER_RE.finditer(text),
        *_ROLE_RE.finditer(text),
    ):
        if match.re is _GREETING_ANY_RE and _NAME_AFTER_RE.match(text, match.end()):
            continue  # a capitalised name: _greeting_names has it
        # A capitalised word right after a relative or a role is their name ("son Vishnu",
        # "la tía Chela") even when it is also a word.
        strong = match.re is _ROLE_RE and text[match.end() : match.end() + 1].isupper()
        end = min(len(text), match.end() + 60)
        span = name_run(text, match.end(), end, lexicon, strong=strong)
        if span is None and strong:
            span = _capitalised_word(text, match.end(), lexicon)
        if span is not None:
            yield Finding(*span, PERSON, 0.8, "name_cue")
    for intro in _INTRO_RE.finditer(text):
        span = name_run(text, intro.end(), min(len(text), intro.end() + 60), lexicon, strong=True)
        if span is not None and not lexicon.is_common(text[span[0] : span[1]].split()[0]):
            yield Finding(*span, PERSON, 0.8, "name_cue")
    for verb in _SPEECH_VERB_RE.finditer(text):
        match = _WORDS_BEFORE_RE.search(text, max(0, verb.start() - 60), verb.start())
        if match is None:
            continue
        span = _name_suffix(text, match.start(1), match.end(1), lexicon)
        if span is not None:
            yield Finding(*span, PERSON, 0.8, "name_cue")


_CAPITALISED_WORD = re.compile(rf"[{UPPER}][{LOWER}]{{2,}}(?![\w@-])")


def _capitalised_word(text: str, start: int, lexicon: NameLexicon) -> Span | None:
    """A capitalised word that is not a stop word, a calendar or group word, or an
    organisation word (after a relative or a role it is a name: "son Vishnu")."""
    match = _CAPITALISED_WORD.match(text, start)
    if match is None:
        return None
    word = match.group().lower()
    if lexicon.ordinary_in_lower_case(word) and not lexicon.is_name(word):
        return None
    if word in NEVER_PERSON or word in NON_NAME_TOKENS:
        return None
    return match.span()


def _name_suffix(text: str, start: int, end: int, lexicon: NameLexicon) -> Span | None:
    """The longest run of name-like words that ends at ``end``."""
    words = list(_NAME_TOKEN.finditer(text, start, end))
    for index in range(len(words)):
        span = name_run(text, words[index].start(), end, lexicon, strong=False)
        if span is not None and span[1] == words[-1].end():
            return span
    return None


def _speaker_findings(text: str, lexicon: NameLexicon) -> Iterator[Finding]:
    """Speaker labels of chats and transcripts: the label is the name ("ana.m:", "Tomasz:"),
    or a role with the name in parentheses ("Agent (Kemal):")."""
    seen: dict[str, int] = {}
    matches = list(_SPEAKER_RE.finditer(text))
    for match in matches:
        key = match.group(1).lower()
        seen[key] = seen.get(key, 0) + 1
    for match in matches:
        inner = match.group(2)
        if inner is not None:
            span = name_run(text, match.start(2), match.end(2), lexicon, strong=True)
            if span is not None:
                yield Finding(*span, PERSON, 0.85, "name_speaker")
        key = match.group(1)
        if label_type(key) is not None or key.lower() in NEVER_PERSON:
            continue
        repeated = seen[key.lower()] >= 2
        span = name_run(text, match.start(1), match.end(1), lexicon, strong=repeated)
        if span is not None and span == match.span(1):
            yield Finding(*span, PERSON, 0.85, "name_speaker")


_NAME_HANDLE_RE = re.compile(
    r"(?<![\w@./:-])([A-Za-z][a-z]{2,}(?:[._][A-Za-z]+){1,3}\d{0,4}|[a-z]{1,2}[a-z]{3,}\d{1,4})"
    r"(?![\w@-]|\.\w)"
)


def _name_handle(value: str, lexicon: NameLexicon) -> bool:
    """ "rhiannon.price", "alejandro_benitez_ok", "tomasz_k", "hnguyen3": user names made of
    a known given name and a surname or an initial, or an initial and a known surname."""
    parts = [p for p in re.split(r"[._\d]+", value.lower()) if p]
    if len(parts) >= 2:
        first, second = parts[0], parts[1]
        if first not in lexicon.first_names or lexicon.ordinary_in_lower_case(first):
            return False
        return len(second) == 1 or lexicon.is_name(second) or second in lexicon.any_names
    word = parts[0] if parts else ""
    return any(
        word[cut:] in lexicon.surnames and not lexicon.is_common(word[cut:]) for cut in (1, 2)
    ) and bool(re.search(r"\d", value))


def _handle_findings(text: str, lexicon: NameLexicon) -> Iterator[Finding]:
    """``@maria.gonzalez``-style mentions whose parts include a known name."""
    for match in _HANDLE_RE.finditer(text):
        parts = [p for p in re.split(r"[._-]+", match.group(1)) if len(p) >= 3]
        if any(lexicon.is_name(p) and not lexicon.is_common(p) for p in parts):
            yield Finding(match.start(), match.end(), PERSON, 0.8, "name_handle")
    for match in _NAME_HANDLE_RE.finditer(text):
        if _name_handle(match.group(1), lexicon):
            yield Finding(*match.span(1), PERSON, 0.75, "name_handle")


_LOWER_WORD_RE = re.compile(rf"(?<![\w@./#$_-])([{LOWER}]{{4,}})(?![\w@/_=-])")
_LOWER_FOLLOWER_RE = re.compile(rf"[ \t]+([{LOWER}]{{2,}})(?![\w@/_=-])")
_CODE_LINE = re.compile(r"[={}$<>\\]|://|\w_\w|\w\.\w+\(")
# Lower-case words that are given names in some country but, in an organisation's text, are
# far more often software, products or places.
_LOWERCASE_NOT_NAMES = frozenset(
    """jenkins docker kafka redis nginx ubuntu debian fedora django flask celery jira
    linux python java ruby rust swift kotlin julia perl scala dart elixir hadoop spark hive
    grafana kibana elastic mongo maven gradle node deno bun npm pip conda alpine arch mint
    oracle sybase teams zoom slack skype outlook excel word chrome safari opera edge firefox
    android apple amazon google yahoo tesla vale sharon mayo""".split()
)


def _lowercase_name_findings(text: str, lexicon: NameLexicon) -> Iterator[Finding]:
    """Lower-case given names in conversational lines ("luego le digo a tupac"): only words
    that are known given names and not ordinary words, never on code-like lines."""
    for match in _LOWER_WORD_RE.finditer(text):
        word = match.group(1)
        if word not in lexicon.first_names or lexicon.ordinary_in_lower_case(word):
            continue
        if word in _LOWERCASE_NOT_NAMES or word in NEVER_PERSON:
            continue
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        if _CODE_LINE.search(text, line_start, line_end if line_end != -1 else len(text)):
            continue
        end = match.end(1)
        for follower in _LOWER_FOLLOWER_RE.finditer(text, end):
            if follower.start() != end or lexicon.ordinary_in_lower_case(follower.group(1)):
                break
            if (
                follower.group(1) not in lexicon.surnames
                and follower.group(1) not in lexicon.first_names
            ):
                break
            end = follower.end(1)
        yield Finding(match.start(1), end, PERSON, 0.6, "name_lowercase")


def find_person_names(text: str, lexicon: NameLexicon) -> list[Finding]:
    """All heuristic PERSON findings in ``text`` (may overlap each other and NER)."""
    return [
        *_cue_findings(text, lexicon),
        *_gazetteer_findings(text, lexicon),
        *_any_case_cues(text, lexicon),
        *_speaker_findings(text, lexicon),
        *_handle_findings(text, lexicon),
        *_lowercase_name_findings(text, lexicon),
        *_initial_findings(text, lexicon),
    ]


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
        if tokens[0].isupper() and not lexicon.is_name(tokens[0]):
            return False  # "PGPASSWORD", "HTTP": an identifier or acronym, not a name
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
