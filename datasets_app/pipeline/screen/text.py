"""Text views the screen detectors share: obfuscation-robust folding and hidden characters.

``fold`` maps the usual ways of disguising a phrase onto one form before anything is
counted or matched: compatibility forms (fullwidth, mathematical letters), invisible and
format characters (zero-width, bidi controls, tag characters), accents, homoglyphs
(Cyrillic, Greek, Armenian and Cherokee letters that look Latin), case, and punctuation
(every run of non-alphanumerics becomes one space). ``skeleton`` also drops the spaces, so
"i g n o r e", "ig-nore" and "ignore" meet. Digits stay digits: "1gnore" is another word.

``render_hidden`` is for people: it shows every invisible character as an escape
(``\\u200b``), so the review workspace never renders it.
"""

from __future__ import annotations

import re
import unicodedata

# Characters that are invisible or only change how text is laid out. Nobody needs them to
# read a support ticket; attackers use them to split words (zero-width), reorder what is
# displayed (bidi controls) or smuggle ASCII no one sees (tag characters, U+E0000 block).
_INVISIBLE_CLASS = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
INVISIBLE = re.compile(f"[{_INVISIBLE_CLASS}]")
# Shown escaped to reviewers but harmless enough not to be a finding on their own: C0/C1
# controls (tab and line breaks excepted), unusual spaces, line separators, private use.
_SHOWN_CLASS = (
    _INVISIBLE_CLASS + "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00a0\u1680\u2000-\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ue000-\uf8ff"
)
_SHOWN = re.compile(f"[{_SHOWN_CLASS}]")
# After NFKD, anything but ASCII, combining accents and common punctuation (¿¡«», dashes,
# quotes, €): letters of other scripts, symbols, invisible characters outside U+2010-203F.
_BEYOND_ACCENTS = re.compile("[^\x00-\x7f\u0300-\u036f\u00a1-\u00bf\u2010-\u203f\u20ac]")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_NOT_ALNUM = re.compile(r"[\W_]+")
# ASCII letters lowercased, digits kept, every other byte a space (bytes.translate is C-fast).
_ASCII_FOLD = bytes(
    c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 or 48 <= c <= 57 else 32 for c in range(256)
)

# Letters that render like Latin ones, mapped to the lowercase Latin letter they imitate.
# Upper and lower case are listed apart because they imitate different letters (Greek Η
# looks like H, η like n). A hand-made subset of Unicode's confusables: the letters of
# Cyrillic, Greek, Armenian and Cherokee that pass for Latin in a sans-serif font.
_HOMOGLYPHS = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "з": "3", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g", "ь": "b", "п": "n", "г": "r",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c",
    "Т": "t", "У": "y", "Х": "x", "Ѕ": "s", "І": "i", "Ј": "j", "Ԁ": "d", "Ԛ": "q", "Ԝ": "w",
    "Ӏ": "l", "Һ": "h",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
    "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n",
    "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x", "Ϲ": "c",
    # Armenian
    "ա": "w", "հ": "h", "ո": "n", "ս": "u", "օ": "o", "ց": "g", "ք": "p", "զ": "q", "Տ": "s",
    "Օ": "o", "Ս": "u",
    # Cherokee (capitals only; they are the ones that pass for Latin)
    "Ꭺ": "a", "Ᏼ": "b", "Ꮯ": "c", "Ꭰ": "d", "Ꭼ": "e", "Ꮐ": "g", "Ꮋ": "h", "Ꭵ": "i", "Ꭻ": "j",
    "Ꮶ": "k", "Ꮮ": "l", "Ꮇ": "m", "Ꮲ": "p", "Ꮢ": "r", "Ꮪ": "s", "Ꭲ": "t", "Ꮩ": "v", "Ꮃ": "w",
    "Ꮓ": "z",
    # Latin letters outside ASCII that NFKD leaves alone
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ʀ": "r", "ʏ": "y", "ᴄ": "c", "ᴏ": "o", "ᴠ": "v",
}  # fmt: skip
_HOMOGLYPH_TABLE = str.maketrans(_HOMOGLYPHS)
# str.translate is slow per character: only texts holding a homoglyph go through it.
_ANY_HOMOGLYPH = re.compile("[" + "".join(sorted(_HOMOGLYPHS)) + "]")


# Anything ``light_fold`` undoes besides NFKC: an invisible character or a homoglyph.
DISGUISE = re.compile(f"[{_INVISIBLE_CLASS}" + "".join(sorted(_HOMOGLYPHS)) + "]")


def _map_homoglyphs(text: str) -> str:
    return text.translate(_HOMOGLYPH_TABLE) if _ANY_HOMOGLYPH.search(text) else text


# Scripts whose letters imitate Latin ones (for mixed-script words).
LATIN_LETTER = re.compile("[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
LOOKALIKE_LETTER = re.compile(
    "[\u0370-\u03ff\u1f00-\u1fff\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f"
    "\u0530-\u058f\u13a0-\u13ff\uab70-\uabbf]"
)
RTL_LETTER = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")


def strip_invisible(text: str) -> str:
    """Returns ``text`` without invisible and format characters (see ``INVISIBLE``)."""
    return INVISIBLE.sub("", text)


def light_fold(text: str) -> str:
    """NFKC, invisible characters removed, homoglyphs mapped, lowercased; punctuation kept.

    For patterns made of punctuation (``<|im_start|>``, ``javascript:``) that must still
    match when disguised with fullwidth forms, zero-width characters or homoglyphs.
    """
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKC", text)
    return _map_homoglyphs(INVISIBLE.sub("", text)).lower()


def fold(text: str) -> str:
    """Returns the matching form of ``text``: lowercase alphanumeric words, one space apart.

    Guarantees: the result is empty or words of ``\\w`` characters (no underscore)
    separated by exactly one ASCII space, so it can go to ``near_dedup.shingle_hashes``.
    Case, punctuation, accents, compatibility forms, invisible characters and the
    homoglyphs of ``_HOMOGLYPHS`` do not change it.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        if _BEYOND_ACCENTS.search(text):
            text = _map_homoglyphs(_COMBINING.sub("", INVISIBLE.sub("", text)))
            if not text.isascii():
                return _NOT_ALNUM.sub(" ", text.lower()).strip()
        else:  # Latin letters, accents and punctuation (Spanish): drop all but ASCII
            text = text.encode("ascii", "ignore").decode("ascii")
    return " ".join(text.encode("ascii").translate(_ASCII_FOLD).decode("ascii").split())


def skeleton(folded: str) -> str:
    """The folded text without spaces: "i g n o r e", "ig.nore" and "ignore" meet."""
    return folded.replace(" ", "")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def render_hidden(text: str) -> str:
    """Returns ``text`` with every invisible, control, unusual-space or private-use
    character written as a Python-style escape (``\\u200b``, ``\\U000e0041``).

    Tab, line feed and carriage return stay as they are. The result contains no character
    that renders as nothing, so a reviewer sees exactly where something was hidden.
    """
    return _SHOWN.sub(lambda match: _escape(match.group()), text)


def hidden_characters(text: str) -> list[tuple[int, str]]:
    """Returns (offset, escape) for each character ``render_hidden`` would escape."""
    return [(m.start(), _escape(m.group())) for m in _SHOWN.finditer(text)]


def render_lookalikes(word: str) -> str:
    """Escapes the non-Latin letters of a mixed-script word ("p\\u0430ypal")."""
    return "".join(_escape(c) if LOOKALIKE_LETTER.match(c) else c for c in word)


def decode_tag_text(text: str) -> str:
    """Returns the ASCII smuggled in Unicode tag characters (U+E0020-U+E007E), or ""."""
    return "".join(chr(ord(c) - 0xE0000) for c in text if 0xE0020 <= ord(c) <= 0xE007E)


def excerpt(text: str, start: int = 0, length: int = 160) -> str:
    """A short, escaped slice of ``text`` for evidence (never renders hidden characters)."""
    piece = text[max(0, start) : max(0, start) + length]
    return render_hidden(piece)
