"""Payloads: encoded blobs, disguised URLs and code meant to run, inside record text.

Per field, stateless:

* base64 runs (40+ characters of mixed case and digits, high character entropy) and hex
  runs (80+ digits, or ``\\x41``-style escapes, or ``0x41,`` arrays). A run that decodes
  to readable text is shown decoded, and scores highest when that text is an injection;
* encoded URLs: long percent-escape runs, double encoding, ``data:...;base64,`` URLs,
  ``javascript:``/``vbscript:`` schemes, credentials before the host;
* script fragments (``<script``, event handlers, ``document.cookie``, ``eval(atob(``)
  and shell one-liners (``curl ... | sh``, ``/dev/tcp/``, ``nc -e``, ``rm -rf /``,
  encoded PowerShell, ``IEX (New-Object Net.WebClient)``);
* markdown images whose URL carries a query (a known exfiltration channel).

A checksum, a long random token with no readable decoding, or a punycode host scores
below the threshold alone. Misses: payloads split across fields or records, encodings
other than base64/hex/percent, and code that is not in the patterns.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import unquote

from datasets_app.pipeline.screen.injection import (
    Needles,
    compile_patterns,
    gate_needles,
    matches,
    phrase_signals,
)
from datasets_app.pipeline.screen.model import FieldDetector, FieldScoring, RecordView, Signal
from datasets_app.pipeline.screen.text import excerpt, fold, light_fold

NAME = "payload"
_BASE64 = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{40,}={0,2}")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){40,}(?![0-9A-Fa-f])")
_HEX_ESCAPES = re.compile(r"(?:\\x[0-9a-fA-F]{2}){8,}")
_HEX_ARRAY = re.compile(r"(?:0x[0-9a-fA-F]{2}\s*,\s*){8,}")
_PERCENT_RUN = re.compile(r"(?:%[0-9a-fA-F]{2}){6,}")
_DOUBLE_ENCODED = re.compile(r"%25[0-9a-fA-F]{2}")
_PRINTABLE = re.compile(r"[\x20-\x7e\t\n\r\u00a0-\uffff]")

# (score, pattern, description, needle groups: the pattern is tried only when the text holds
# a needle of each group; the last group is the rarest, which gates whole records).
_CODE_PATTERNS: tuple[tuple[float, str, str, Needles], ...] = (
    (0.9, r"data:[a-z]+/[\w.+-]+(;[\w=.-]+)*;base64,", "data: URL", (("data:",),)),
    (0.9, r"j\s*a\s*v\s*a\s*s\s*c\s*r\s*i\s*p\s*t\s*:|vbscript\s*:", "script URL", (("javascript", "vbscript", "j a v", "script:", "script :"),)),
    (0.6, r"https?://[^\s/@]+@[^\s/]+", "credentials before a URL host", (("://",), ("@",))),
    (0.9, r"<\s*script\b", "script tag", (("script",), ("<",))),
    (0.8, r"<\s*iframe\b", "iframe tag", (("iframe",),)),
    (0.9, r"<[^>]{0,200}\bon(error|load|click|mouseover|focus|begin)\s*=", "HTML event handler", (("onerror", "onload", "onclick", "onmouseover", "onfocus", "onbegin"),)),
    (0.8, r"document\.cookie", "cookie access", (("document.cookie",),)),
    (0.9, r"\beval\s*\(\s*(atob|unescape|string\.fromcharcode)", "eval of decoded code", (("eval",),)),
    (0.7, r"string\.fromcharcode\s*\(", "character-code decoding", (("fromcharcode",),)),
    (0.85, r"\b(curl|wget)\b[^\n|]{0,300}\|\s*(sudo\s+)?(ba|z|da|k)?sh\b", "download piped to a shell", (("|",), ("curl", "wget"))),
    (0.9, r"/dev/tcp/", "reverse shell", (("/dev/tcp/",),)),
    (0.95, r"\bnc(at)?\b[^\n]{0,80}\s-e\s*/bin/(ba)?sh", "reverse shell", (("/bin/",),)),
    (0.8, r"\brm\s+-(rf|fr)\s+(/|~|\*|/\*)(\s|$)|--no-preserve-root", "destructive command", (("rm -", "no-preserve"),)),
    (0.95, r"\bpowershell(\.exe)?\b[^\n]{0,80}\s-(e|en|enc|encodedcommand)\s+[a-z0-9+/=]{16,}", "encoded PowerShell", (("powershell",),)),
    (0.95, r"\biex\s*\(?\s*\(?\s*new-object\s+(system\.)?net\.webclient|downloadstring\s*\(", "PowerShell download cradle", (("webclient", "downloadstring"),)),
    (0.9, r"\bbase64\s+(-d|--decode)\b[^\n]{0,80}\|\s*(ba)?sh\b", "decoded script piped to a shell", (("|",), ("base64",))),
    (0.9, r"\bpython[23]?\s+-c\s+[\"']import\s+(socket|os|pty|subprocess)", "inline Python shell", (("python",),)),
    (0.6, r"\bchmod\s+(\+x|7[0-7][0-7])\s+\S+\s*(&&|;)\s*\./", "download and execute", (("chmod",),)),
    (0.95, r":\(\)\s*\{\s*:\|:&\s*\}\s*;\s*:", "fork bomb", ((":()",),)),
    (0.6, r"!\[[^\]]*\]\(\s*https?://[^)\s]+\?[^)\s]*=", "markdown image with a query", (("![",),)),
)  # fmt: skip
_CODE = compile_patterns(_CODE_PATTERNS)
_BLOB_ANY = re.compile(r"[A-Za-z0-9+/_-]{40}|\\x[0-9a-fA-F]{2}|0x[0-9a-fA-F]{2}\s*,")


@dataclass
class PayloadConfig(FieldScoring):
    """When a field counts as carrying a payload."""

    section: ClassVar[str] = "payload"
    min_score: float = field(
        default=0.6, metadata={"help": "combined score from which a field is flagged"}
    )


class PayloadDetector(FieldDetector):
    """Flags fields carrying encoded blobs, disguised URLs or code; stateless."""

    name = NAME

    def record_gate(self, view: RecordView) -> frozenset[str] | None:
        # Most records hold nothing any payload pattern needs: the whole record is checked.
        joined = view.joined()
        encoded = "%" in joined and bool(_PERCENT_RUN.search(joined) or "%25" in joined)
        code = gate_needles(view.light(), _CODE)
        return code if encoded or code or _may_hold_blob(joined) else None

    def field_signals(
        self, view: RecordView, path: str, text: str, gate: frozenset[str]
    ) -> list[Signal]:
        return payload_signals(text, gate)


def _may_hold_blob(text: str) -> bool:
    """A cheap necessary condition for ``_BLOB_ANY``: an escaped byte, or a run of 40
    characters without a space."""
    return "\\x" in text or "0x" in text or max(map(len, text.split()), default=0) >= 40


def payload_signals(text: str, gated: frozenset[str] | None = None) -> list[Signal]:
    """Every payload signal of one field (see module docstring); ``gated``: the code gate
    needles of the whole record, when known."""
    signals = blob_signals(text) if _BLOB_ANY.search(text) else []
    if "%" in text:
        signals += url_signals(text)
    light = light_fold(text)
    shown = text if len(light) == len(text) else light  # excerpts from the original if aligned
    return signals + [
        Signal(score, what, excerpt(shown, match.start(), 80))
        for score, match, what in matches(light, _CODE, gated)
    ]


def blob_signals(text: str) -> list[Signal]:
    """Long base64 and hex runs; readable decodings are shown and judged."""
    signals = [
        signal
        for match in _BASE64.finditer(text)
        if (signal := _base64_signal(match.group())) is not None
    ]
    for match in _HEX.finditer(text):
        signals.append(_decoded_signal(_hex_text(match.group()), "hex", len(match.group()), 256))
    escaped = _HEX_ESCAPES.search(text) or _HEX_ARRAY.search(text)
    if escaped:
        signals.append(Signal(0.9, "escaped byte sequence", excerpt(text, escaped.start(), 80)))
    return signals


def url_signals(text: str) -> list[Signal]:
    """Percent-escape runs (shown decoded) and double encoding."""
    signals = []
    run = _PERCENT_RUN.search(text)
    if run:
        decoded = unquote(run.group())
        hidden = phrase_signals(fold(decoded)) + _script_hints(decoded)
        score = 0.9 if hidden else 0.6
        signals.append(Signal(score, "percent-encoded run", f'decodes to "{excerpt(decoded)}"'))
    if len(_DOUBLE_ENCODED.findall(text)) >= 2:
        signals.append(Signal(0.6, "double URL encoding", ""))
    return signals


def _script_hints(text: str) -> list[Signal]:
    light = light_fold(text)
    return [Signal(score, what, "") for score, _, what in matches(light, _CODE)]


def _base64_signal(run: str) -> Signal | None:
    if not _looks_random(run):
        return None
    return _decoded_signal(_base64_text(run), "base64", len(run), 64)


def _decoded_signal(decoded: str | None, kind: str, length: int, long_run: int) -> Signal:
    """Scores a blob: an injection inside 0.95, readable text 0.85, a long run 0.7, else 0.3."""
    if decoded is not None:
        hidden = phrase_signals(fold(decoded)) + _script_hints(decoded)
        score = 0.95 if any(signal.score >= 0.6 for signal in hidden) else 0.85
        return Signal(
            score, f"{kind} blob with readable content", f'decodes to "{excerpt(decoded)}"'
        )
    score = 0.7 if length >= long_run else 0.3
    return Signal(score, f"long {kind} blob", f"{length} characters")


def _looks_random(run: str) -> bool:
    """Mixed case and digits with high character entropy: not a word, path or slug."""
    digits = sum(c.isdigit() for c in run)
    upper = sum(c.isupper() for c in run)
    lower = sum(c.islower() for c in run)
    if min(digits, upper, lower) < 2 or run.count("/") + run.count("-") > len(run) // 10:
        return False
    counts = Counter(run)
    entropy = -sum(n / len(run) * math.log2(n / len(run)) for n in counts.values())
    return entropy >= 4.2


def _base64_text(run: str) -> str | None:
    data = run.rstrip("=")
    padded = data + "=" * (-len(data) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _readable(raw)


def _hex_text(run: str) -> str | None:
    try:
        return _readable(bytes.fromhex(run))
    except ValueError:
        return None


def _readable(raw: bytes) -> str | None:
    """The UTF-8 text of ``raw`` when at least 20 characters, 95% of them printable."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 20 or len(_PRINTABLE.findall(text)) < 0.95 * len(text):
        return None
    return text
