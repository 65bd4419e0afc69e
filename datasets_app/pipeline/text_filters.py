"""Pure text transforms used by the Cleaner, one per cleaning step. Each takes and returns str."""

from __future__ import annotations

import re
import unicodedata

import ftfy

# Quotes stay curly (content, not damage); entities and control characters are left to the
# strip_html and strip_control steps so each change is reported by the step that owns it.
_FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False, uncurl_quotes=False, remove_control_chars=False, explain=False
)

# Lead byte of a UTF-8 sequence read as Latin-1/cp1252 (Â..ô) followed by what a UTF-8
# continuation byte becomes (U+0080-U+00BF or a cp1252 special), or other ftfy targets.
_CP1252_CONTINUATIONS = (
    "\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
)
_FTFY_TRIGGER = re.compile(
    f"[\u00c2-\u00f4][{_CP1252_CONTINUATIONS}]|[\u0080-\u009f\ufb00-\ufb06\uff01-\uff5e"
    "\ud800-\udfff\x1b\ufffd]"
)

# C0/C1 controls except tab/LF/CR/VT/FF (line breaks, left to normalize_whitespace), plus
# invisible format characters that only hide or reorder text (zero-width space, word joiner,
# BOM, soft hyphen, bidi embeddings/isolates).
# ZWJ/ZWNJ (U+200C/D) stay: emoji sequences and several scripts need them.
_CONTROL = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
_ODD_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_ODD_BREAKS = re.compile("\r\n?|[\u2028\u2029\x0b\x0c\x85]")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_INNER_SPACE_RUN = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_MANY_NEWLINES = re.compile(r"\n{3,}")

_QUOTE_LINE = re.compile(r"^\s*>")
_ATTRIBUTION_START = re.compile(r"^\s*(On|El)\s", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(r"(wrote|escribió)\s*:\s*$", re.IGNORECASE)
_FORWARDED_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(Original Message|Mensaje original|Forwarded message|Mensaje reenviado)\s*-{2,}",
    re.IGNORECASE,
)
_SIGNATURE_DELIMITER = re.compile(r"^--[ \t]?$")
_DEVICE_FOOTER = re.compile(
    r"^\s*(Sent from my |Enviado desde mi |Get Outlook for |Obtener Outlook para )", re.IGNORECASE
)


def fix_unicode(text: str) -> str:
    """Repairs mojibake and broken Unicode with ftfy, and NFC-normalizes.

    ftfy's own scan runs at ~1 MB/s, so it is only called when the text shows something
    ftfy repairs: a UTF-8-read-as-Latin-1/cp1252 pair (``Ã©``, ``â€™``, ``Ð¿``), C1
    controls, ligatures, fullwidth forms, lone surrogates or terminal escapes. Any other
    text gets exactly what ftfy would give it with this config: NFC normalization.
    """
    if text.isascii():
        return text
    if _FTFY_TRIGGER.search(text):
        return ftfy.fix_text(text, _FTFY_CONFIG)
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def strip_control(text: str) -> str:
    """Removes control and invisible format characters (keeps tab, LF, CR, ZWJ/ZWNJ)."""
    return _CONTROL.sub("", text)


def normalize_whitespace(text: str) -> str:
    """Unifies line breaks to LF, exotic spaces to a space, strips line ends and collapses
    inner runs of spaces and 3+ newlines; leading indentation inside the text is kept."""
    # Substring checks are memchr-fast; each regex only runs when it can change something.
    if not text.isascii() or "\r" in text or "\x0b" in text or "\x0c" in text:
        text = _ODD_SPACES.sub(" ", _ODD_BREAKS.sub("\n", text))
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_SPACE.sub("", text)
    if "  " in text or "\t" in text:
        text = _INNER_SPACE_RUN.sub(" ", text)
    if "\n\n\n" in text:
        text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


def strip_email_quotes(text: str) -> str:
    """Removes quoted replies: ``>`` lines, "On ... wrote:" / "El ... escribió:" attributions
    (also wrapped over two lines) and everything after an "Original Message" separator."""
    lines = text.split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _FORWARDED_ORIGINAL.match(line):
            break
        span = _attribution_span(lines, index)
        if span:
            index += span
            continue
        if not _QUOTE_LINE.match(line):
            kept.append(line)
        index += 1
    return "\n".join(kept)


def _attribution_span(lines: list[str], index: int) -> int:
    """Returns how many lines (0, 1 or 2) form a reply attribution starting at ``index``."""
    if not _ATTRIBUTION_START.match(lines[index]):
        return 0
    if _ATTRIBUTION_END.search(lines[index]):
        return 1
    following = lines[index + 1] if index + 1 < len(lines) else ""
    return 2 if _ATTRIBUTION_END.search(following) and len(lines[index]) < 300 else 0


def strip_signatures(text: str) -> str:
    """Cuts everything from a "-- " signature delimiter on and drops "Sent from my ..." /
    "Enviado desde mi ..." style device footers."""
    kept: list[str] = []
    for line in text.split("\n"):
        if _SIGNATURE_DELIMITER.match(line):
            break
        if not _DEVICE_FOOTER.match(line):
            kept.append(line)
    return "\n".join(kept)
