"""Instruction injection inside data: text written for a model, not for a person.

Looks at each field of each record (stateless) for four things:

* override phrases in English and Spanish ("ignore all previous instructions", "olvida tus
  instrucciones", "reveal your system prompt"), matched on the folded text without spaces,
  so case, punctuation, accents, zero-width characters and homoglyphs do not hide them;
* role markers and chat-template tokens (``<|im_start|>``, ``[INST]``, ``<<SYS>>``,
  ``### Instruction:``), matched after NFKC and homoglyph folding;
* hidden Unicode: tag characters (invisible ASCII), bidi overrides in text without
  right-to-left script, zero-width characters inside Latin words, variation-selector runs;
* homoglyph runs: words mixing Latin with look-alike Cyrillic, Greek, Armenian or Cherokee.

Ordinary requests that merely sound similar ("please ignore my previous email", "ignore
the previous instructions about the delivery", "enable developer mode on the phone") score
below the threshold on their own. Misses: instructions paraphrased beyond the patterns,
other languages, and text that only becomes an instruction in context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from datasets_app.pipeline.screen.model import (
    FieldDetector,
    FieldScoring,
    RecordView,
    Signal,
)
from datasets_app.pipeline.screen.text import (
    LATIN_LETTER,
    LOOKALIKE_LETTER,
    RTL_LETTER,
    decode_tag_text,
    excerpt,
    fold,
    light_fold,
    render_lookalikes,
    skeleton,
)

NAME = "injection"

# Each pattern: (score, regular expression, description, needles). A pattern is tried only
# when the text holds a needle of every group (substring tests are C-fast; almost no field
# passes them); its last group is its rarest, the one a whole record is first checked for.
# Skeleton patterns see the folded text without spaces.
_IMPERATIVE = (
    r"(and|then|instead|now|y|ahora)?(say|reply|respond|answer|tell|print|output|write|reveal|"
    r"give|send|act|pretend|insult|only|di|responde|contesta|dime|revela|escribe|muestra|"
    r"insulta|actua|dame|envia|solo)"
)
_PREVIOUS = r"(previous|prior|above|preceding|earlier|former|initial|original)"
_RULES = r"(instructions?|prompts?|directions?|rules|guidelines|commands?|guardrails|restrictions)"
_REGLAS = r"(instrucciones|indicaciones|reglas|ordenes|directrices|normas|restricciones)"
_IGNORA = r"(ignora|ignore|olvida|olvide|omite|descarta|desestima|hazcasoomisode|nohagascasoa|nohagascasode)"
_EN = (
    ("ignore", "disregard", "forget", "skip", "bypass", "override"),
    (
        "instruction",
        "prompt",
        "direction",
        "rule",
        "guideline",
        "command",
        "guardrail",
        "restriction",
    ),
)
_ES = (
    ("ignor", "olvid", "omite", "descarta", "desestima", "caso"),
    ("instruccion", "indicacion", "reglas", "ordenes", "directrices", "normas", "restriccion"),
)
Needles = tuple[tuple[str, ...], ...]
_SKELETON_PATTERNS: tuple[tuple[float, str, str, Needles], ...] = (
    (0.9, rf"(ignore|disregard|forget|skip|bypass|override)(all|any)(of)?(the|your|my)?{_PREVIOUS}?{_RULES}", "override of all previous instructions", _EN),
    (0.9, rf"(ignore|disregard|forget|bypass|override)(the|your)?{_PREVIOUS}{_RULES}{_IMPERATIVE}", "override of previous instructions, then a command", _EN),
    (0.6, rf"(ignore|disregard|forget|bypass|override)(the|your)?{_PREVIOUS}{_RULES}", "reference to previous instructions", _EN),
    (0.85, rf"(ignore|disregard|forget|bypass|override)your{_RULES}|(ignore|disregard|forget)your(programming|systemprompt|training|safety)", "override of the model's rules", (("your",), _EN[0])),
    (0.85, r"(reveal|print|show|output|repeat|leak|display|tellme|giveme)(me)?(your|the)(full|entire|hidden|secret|initial|original)?(systemprompt|systemmessage|hiddeninstructions|initialinstructions|internalinstructions)", "request for the system prompt", (("systemprompt", "systemmessage", "instructions"),)),
    (0.85, r"youarenow(a|an|the|in)?(dan|jailbroken|unrestricted|uncensored|unfiltered|evil|freed|godmode)", "role reassignment", (("youarenow",),)),
    (0.85, r"doanythingnow|jailbreakprompt|dodanmode|youaredan", "known jailbreak", (("doanythingnow", "jailbreakprompt", "dodanmode", "youaredan"),)),
    (0.9, rf"{_IGNORA}(todas|todos)(las|los|tus|sus)?{_REGLAS}", "override of all instructions (es)", _ES),
    (0.9, rf"{_IGNORA}(las|tus|sus)?{_REGLAS}(anteriores|previas|dearriba|delsistema|iniciales|originales){_IMPERATIVE}", "override of previous instructions, then a command (es)", _ES),
    (0.6, rf"{_IGNORA}(las|tus|sus)?{_REGLAS}(anteriores|previas|dearriba|delsistema|iniciales|originales)", "reference to previous instructions (es)", _ES),
    (0.85, rf"(ignora|olvida|omite|descarta)tus{_REGLAS}", "override of the model's rules (es)", _ES),
    (0.7, r"olvidatodoloanterior|ignoratodoloanterior", "override of everything above (es)", (("loanterior",),)),
    (0.85, r"(revela|muestra|imprime|dime|repite|ensename)(me)?(tu|el|las|tus)(promptdelsistema|mensajedelsistema|instruccionesocultas|instruccionesiniciales|instruccionesdelsistema|promptinicial)", "request for the system prompt (es)", (("delsistema", "instruccionesocultas", "instruccionesiniciales", "promptinicial"),)),
    (0.85, r"(ahoraeres|apartirdeahoraeres|desdeahoraeres)(un|una)?(ia|asistente|modelo)?(sinrestricciones|sincensura|sinfiltros|malvad[oa]|dan)", "role reassignment (es)", (("ahoraeres",),)),
)  # fmt: skip
# Weak signals: each alone stays under the threshold; together they add up.
_FOLDED_PATTERNS: tuple[tuple[float, str, str, Needles], ...] = (
    (0.6, r"\bfrom now on,? you (will|must|shall|should|are to) (only )?(respond|reply|answer|act|obey|ignore|say|speak|pretend|insult|refuse)", "standing order to the model", (("from now on",),)),
    (0.6, r"\ba partir de ahora (responde|contesta|actua|obedece|ignora|di|insulta|solo)", "standing order to the model (es)", (("a partir de ahora",),)),
    (0.6, r"\bpretend (you are|to be) (an? )?(unrestricted|uncensored|jailbroken|evil|different ai)", "role play request", (("pretend",),)),
    (0.5, r"\b(you must obey|obey me|debes obedecer|obedeceme)\b", "demand for obedience", (("obey", "obedec"),)),
    (0.4, r"\b(developer|god|dan|jailbreak|debug) mode\b|\bmodo (desarrollador|dios|dan|jailbreak)\b", "special mode", (("developer mode", "god mode", "dan mode", "jailbreak mode", "debug mode", "modo desarrollador", "modo dios", "modo dan", "modo jailbreak"),)),
    (0.4, r"\bsystem prompt\b|\bprompt del sistema\b", "mention of a system prompt", (("system prompt", "prompt del sistema"),)),
    (0.4, r"\b(new|updated) instructions\b|\bnuevas instrucciones\b|\b(system|admin) override\b", "new instructions", (("instructions", "instrucciones", "override"),)),
    (0.3, r"\b(respond|reply|answer|responde|contesta) (only|solo|unicamente) (with|con)\b", "output constraint", (("only with", "solo con", "unicamente con"),)),
    (0.3, r"\bsin (restricciones|censura|filtros)\b|\bno (restrictions|filters|censorship)\b", "no restrictions", (("sin ", "no "), ("restric", "censur", "filt"))),
)  # fmt: skip
_TEMPLATE_PATTERNS: tuple[tuple[float, str, str, Needles], ...] = (
    (0.9, r"<\|[a-z_]{2,32}\|>", "chat-template token", (("<|",),)),
    (0.9, r"\[/?inst\]|<</?sys>>|<(start|end)_of_turn>", "chat-template token", (("[inst", "[/inst", "<<sys", "<</sys", "_of_turn>"),)),
    (0.8, r"^[ \t]*#{2,4}[ \t]*(instructions?|response|system|input|human|assistant|user|instrucci[oó]n(es)?|respuesta|sistema|entrada)[ \t]*:?[ \t]*$", "instruction-format header", (("##",),)),
    (0.8, r"^[ \t]*(system|sistema)[ \t]*:[ \t]*(you are|eres|ignore|ignora|from now on|a partir de ahora)", "system role marker", (("system", "sistema"),)),
    (0.6, r"</?(system|assistant)>", "role tag", (("<system", "</system", "<assistant", "</assistant"),)),
    (0.8, r"^[ \t]*human[ \t]*:[\s\S]*^[ \t]*assistant[ \t]*:", "Human/Assistant turn markers", (("human",), ("assistant",))),
)  # fmt: skip


@dataclass(frozen=True)
class PatternSet:
    """Compiled patterns and their gate: the fewest needles one of which any match implies
    (from the patterns' last, rarest groups). ``covers[i]``: the gate needles whose presence
    lets pattern ``i`` match."""

    patterns: tuple[tuple[float, re.Pattern[str], str, Needles], ...]
    gate: tuple[str, ...]
    covers: tuple[frozenset[str], ...]
    spaced: bool  # False: the gate is looked for in the text without its spaces


def compile_patterns(
    patterns: tuple[tuple[float, str, str, Needles], ...], gate: tuple[str, ...] | None = None
) -> PatternSet:
    """Compiles (score, expression, description, needle groups) patterns, gated by the
    minimal needles of their last groups, or by ``gate``: needles without spaces, looked
    for in the text without its spaces (a gate shared by several families)."""
    spaced = gate is None
    if gate is None:
        gate = gate_of(patterns, spaced=True)
    # MULTILINE: the role-marker patterns anchor at line starts; no other pattern uses ^ or $.
    compiled = tuple(
        (score, re.compile(pattern, re.MULTILINE), what, needles)
        for score, pattern, what, needles in patterns
    )
    covers = tuple(
        frozenset(
            g for g in gate for n in needles[-1] if g in (n if spaced else n.replace(" ", ""))
        )
        for *_, needles in patterns
    )
    return PatternSet(compiled, gate, covers, spaced)


def gate_of(
    *families: tuple[tuple[float, str, str, Needles], ...], spaced: bool = False
) -> tuple[str, ...]:
    """The needles of the patterns' last groups (without their spaces unless ``spaced``)
    that contain no other: not finding "prompt" rules out "systemprompt" too."""
    needles = {
        n if spaced else n.replace(" ", "")
        for family in families
        for *_, groups in family
        for n in groups[-1]
    }
    return tuple(sorted(n for n in needles if not any(o != n and o in n for o in needles)))


def gate_needles(text: str, patterns: PatternSet) -> frozenset[str]:
    """The gate needles ``text`` holds (one substring test each; usually none)."""
    return frozenset(needle for needle in patterns.gate if needle in text)


def matches(
    text: str, patterns: PatternSet, gated: frozenset[str] | None = None
) -> list[tuple[float, re.Match[str], str]]:
    """(score, match, description) of every pattern whose needles and expression match
    ``text``. ``gated``: the gate needles of a text holding ``text`` (the whole record);
    only the patterns they cover are tried."""
    if gated is None:
        gated = gate_needles(text if patterns.spaced else text.replace(" ", ""), patterns)
    return [
        (score, match, what)
        for (score, pattern, what, groups), cover in zip(
            patterns.patterns, patterns.covers, strict=True
        )
        if not cover.isdisjoint(gated)
        and all(any(needle in text for needle in group) for group in groups)
        and (match := pattern.search(text))
    ]


# Phrase patterns share one gate, looked for in a record's folded text without spaces. Weak
# hints (under 0.5) do not open it: alone they stay under the threshold, and a field that
# holds nothing stronger is not examined.
_PHRASE_GATE = gate_of(
    _SKELETON_PATTERNS, tuple(pattern for pattern in _FOLDED_PATTERNS if pattern[0] >= 0.5)
)
_SKELETON = compile_patterns(_SKELETON_PATTERNS, _PHRASE_GATE)
_FOLDED = compile_patterns(_FOLDED_PATTERNS, _PHRASE_GATE)
_TEMPLATES = compile_patterns(_TEMPLATE_PATTERNS)

_TAG = re.compile("[\U000e0000-\U000e007f]+")
_EMOJI_TAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0061-\U000e007a]{2,7}\U000e007f")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_BIDI_OVERRIDE = re.compile("[\u202d\u202e]")
_ZERO_WIDTH = "\u034f\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200d\u2060-\u2064\u3164\ufeff\uffa0"
_ZW_IN_WORD = re.compile(
    f"(?<=[A-Za-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff])[{_ZERO_WIDTH}]+"
    f"(?=[A-Za-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff])"
)
_ZW_ANY = re.compile(f"[{_ZERO_WIDTH}]")
_VARIATION_RUN = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]{2,}|[\U000e0100-\U000e01ef]")
_WORD = re.compile(r"\w+")
_UNIT_LETTERS = str.maketrans("", "", "μΩ")
# Any character a hidden-Unicode signal looks at (tags, bidi controls, zero-width, selectors).
_UNICODE_TRICK = re.compile(
    f"[\U000e0000-\U000e007f\u202a-\u202e\u2066-\u2069{_ZERO_WIDTH}\ufe00-\ufe0f\U000e0100-\U000e01ef]"
)


@dataclass
class InjectionConfig(FieldScoring):
    """When a field counts as injected."""

    section: ClassVar[str] = "injection"


class InjectionDetector(FieldDetector):
    """Flags fields written to steer a model; see the module docstring. Stateless."""

    name = NAME

    def record_gate(self, view: RecordView) -> Gates | None:
        # A needle of a field is a needle of the record, and most records hold none, so
        # their fields are never examined.
        gates = record_gates(view)
        return gates if gates.any() else None

    def field_signals(self, view: RecordView, path: str, text: str, gate: Gates) -> list[Signal]:
        folded = view.folded(path) if len(text) <= self.config.max_field_chars else None
        return field_signals(text, folded, gate)


@dataclass(frozen=True)
class Gates:
    """What a record may hold (a superset: its fields decide): hidden or look-alike
    characters, and the gate needles of the phrase and template patterns."""

    unicode: bool = True
    phrases: frozenset[str] | None = None  # None: not computed, try every pattern
    templates: frozenset[str] | None = None

    def any(self) -> bool:
        """False when no field can hold any signal."""
        return self.unicode or bool(self.phrases) or bool(self.templates)


def record_gates(view: RecordView) -> Gates:
    """The ``Gates`` of a whole record, from its joined and folded texts."""
    joined = view.joined()
    unicode = not joined.isascii() and bool(
        _UNICODE_TRICK.search(joined) or LOOKALIKE_LETTER.search(joined)
    )
    phrases = gate_needles(skeleton(view.folded("all")), _SKELETON)
    return Gates(unicode, phrases, gate_needles(view.light(), _TEMPLATES))


def field_signals(text: str, folded: str | None = None, gates: Gates | None = None) -> list[Signal]:
    """Every injection signal found in one field (see module docstring); ``folded`` is
    ``fold(text)`` when the caller has it already; ``gates`` (of the whole record) limits
    the search."""
    gates = gates or Gates()
    signals: list[Signal] = []
    if gates.unicode and not text.isascii():
        signals += hidden_unicode_signals(text)
        signals += homoglyph_signals(text)
    if gates.phrases is None or gates.phrases:
        signals += phrase_signals(fold(text) if folded is None else folded, gates.phrases)
    if gates.templates is None or gates.templates:
        signals += template_signals(text, gates.templates)
    return signals


def phrase_signals(folded: str, gated: frozenset[str] | None = None) -> list[Signal]:
    """Override phrases (strongest match only) and weak hints, in a ``fold``-ed text."""
    bare = skeleton(folded)
    if gated is None:
        gated = gate_needles(bare, _SKELETON)
    found = matches(bare, _SKELETON, gated)
    # Only the strongest override phrase counts: its weaker forms overlap it.
    strongest = [max(found, key=lambda item: item[0])] if found else []
    return [
        Signal(score, what, excerpt(match.group(), 0, 120))
        for score, match, what in strongest + matches(folded, _FOLDED, gated)
    ]


def template_signals(text: str, gated: frozenset[str] | None = None) -> list[Signal]:
    """Chat-template tokens and role markers (NFKC, homoglyphs and invisibles folded)."""
    light = light_fold(text)
    if gated is None:
        gated = gate_needles(light, _TEMPLATES)
    return [
        Signal(score, what, excerpt(light, match.start(), 60))
        for score, match, what in matches(light, _TEMPLATES, gated)
    ]


def hidden_unicode_signals(text: str) -> list[Signal]:
    """Tag characters, bidi controls, zero-width characters inside words, variation runs."""
    signals: list[Signal] = []
    tags = _TAG.search(_EMOJI_TAG_SEQUENCE.sub("", text))
    if tags:
        hidden = decode_tag_text(text)
        signals.append(Signal(0.95, "hidden tag characters", f'hidden text "{excerpt(hidden)}"'))
    bidi = _BIDI.search(text)
    if bidi and (not RTL_LETTER.search(text) or _BIDI_OVERRIDE.search(text)):
        score = 0.8 if not RTL_LETTER.search(text) else 0.6
        signals.append(
            Signal(score, "bidi control characters", excerpt(text, bidi.start() - 20, 60))
        )
    inside = _ZW_IN_WORD.search(text)
    if inside:
        where = excerpt(text, inside.start() - 20, 60)
        signals.append(Signal(0.75, "zero-width characters inside words", where))
    elif len(_ZW_ANY.findall(text)) >= 3:
        signals.append(Signal(0.5, "zero-width characters", ""))
    variation = _VARIATION_RUN.search(text)
    if variation:
        signals.append(Signal(0.8, "variation-selector run", excerpt(text, variation.start(), 40)))
    return signals


def homoglyph_signals(text: str) -> list[Signal]:
    """Words that mix Latin letters with look-alike letters of another script (units such
    as "μm" or "kΩ" excepted)."""
    mixed = [
        word
        for word in _WORD.findall(text)
        if not word.isascii()
        and LATIN_LETTER.search(word)
        and LOOKALIKE_LETTER.search(word.translate(_UNIT_LETTERS))
    ]
    if not mixed:
        return []
    shown = ", ".join(render_lookalikes(word) for word in mixed[:3])
    return [Signal(0.75 if len(mixed) == 1 else 0.9, "mixed-script words", shown)]
