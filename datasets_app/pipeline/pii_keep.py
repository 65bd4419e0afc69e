"""Hard negatives: strings that look like personal data but identify an order, not a person.

Ticket, order, invoice and case numbers, software versions, commit hashes and checksums,
object UUIDs, HTTP and error codes, prices and amounts. They are recognised by shape plus
the word in front of them ("Order #48213", "v2.4.1", "HTTP 503", "$1,299.00", "ORD-2023-0041")
or by a non-personal label (``pii_labels.KEEP``: "Pedido:", "sku", "importe" columns).

``drop_hard_negatives`` removes the weak findings that fall on such a string: a phone-shaped
order number, a version read as an IP address, a price read as an identifier, a product name
read as a person. Strong evidence always wins: a value under a personal label ("DNI:"), a
checksum-confirmed identifier, an e-mail, a vendor token (score >= ``STRONG_SCORE``).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from datasets_app.pipeline.pii_types import Finding

STRONG_SCORE = 0.9
Span = tuple[int, int]

_KEEP_PATTERNS = (
    # Ticket/order/invoice/case identifiers: a prefix word, then the number.
    re.compile(
        r"(?i)\b(?:order|pedido|orden|ticket|incidencia|incident|case|caso|invoice|factura|"
        r"receipt|recibo|ref(?:erence|erencia)?|sku|item|po|ot|folio|expediente|tr[aá]mite|"
        r"claim|siniestro|reclamo|tracking|seguimiento|gu[ií]a|env[ií]o|shipment|pnr|"
        r"booking|localizador|confirmation|confirmaci[oó]n|prescription|rx|receta|parte|"
        r"radicado|mid|tid|merchant id|label|etiqueta|report|informe|denuncia|"
        r"request|solicitud|issue|bug|pr|job|build|run|batch|lote|serial|serie|"
        r"room|sala|habitaci[oó]n|gate|puerta de embarque|flight|vuelo|seat|asiento|"
        r"error|code|c[oó]digo|status|http|exit|port|puerto|pid|"
        r"version|versi[oó]n|release|commit|hash|checksum|sha(?:1|256)?|md5|uuid|guid)"
        r"s?\b\.?\s{0,3}(?:(?:no|nro|n[º°]|num|number|n[uú]mero|id|#|code|c[oó]digo)\b\.?[ \t]*)?"
        r"(?:(?:is|es|was|era)\s+)?"
        r"[:#=]?[ \t]*#?[ \t]*([A-Za-z]{0,6}[- /]?\d[\w./-]{1,40})"
    ),
    # Digests named as such: "checksum 9f3a...", "sha256: 47DEQpj8...", "ETag: ...".
    re.compile(
        r"(?i)\b(?:checksum|hash|sha(?:1|256|512)?|md5|digest|etag|integrity|commit|nonce)"
        r"[ \t]*[:=]?[ \t]*[\"']?([A-Za-z0-9+/_-]{7,128}={0,2})"
    ),
    # Identifiers with a letter prefix: INC0012345, ORD-2023-0041, JIRA-1234, TCK-88.
    re.compile(r"(?<![\w@.-])((?:[A-Z]{2,8}-)+\d[\d-]{1,20}|(?:INC|REQ|CHG|RITM|PRB)\d{5,10})\b"),
    # Numbers of providers, employers and billing codes: "NPI 1598723046", "EIN 36-4471920",
    # "CPT 99214", "ICD-10 J18.9", "NDC 0002-1433-80".
    re.compile(
        r"\b(?:NPI|EIN|FEIN|DEA|CPT|HCPCS|ICD-?10(?:-CM)?|ICD|NDC|CIE-?10)\b[ \t#:]*([\w.-]*\d[\w.-]*)"
    ),
    # Chat and log timestamps: a date followed by a time ("[10/9/24 21:18]", "6/14/24, 7:02 PM").
    re.compile(r"(?<![\w/.-])(\d{1,4}[-/.]\d{1,2}[-/.]\d{2,4}),?[ \t]+\d{1,2}:\d{2}(?!\d)"),
    # #4521 (issue numbers).
    re.compile(r"(?<![\w&])(#\d{2,10})\b"),
    # Versions: v2.4.1, 2.4.1-rc1, 10.0.19045; not a dotted date of the last two centuries
    # ("born 17.03.1986") nor a number grouped in thousands ("70.316.028", a DNI or cédula).
    re.compile(
        r"(?i)(?<![\w.])(?!\d{1,2}\.\d{1,2}\.(?:19|20)\d\d(?![\w-]|\.\d))"
        r"(?!\d{1,3}\.\d{3}\.\d{3}(?![\w-]|\.\d))(v\d{1,4}(?:\.\d{1,6}){1,3}(?:[-+][\w.]+)?|\d{1,2}\.\d{1,3}\.\d{1,5}"
        r"(?:-[\w.]+)?)(?![\w]|\.\d)"
    ),
    # Hashes and checksums: hex runs of digest lengths; object UUIDs.
    re.compile(
        r"(?i)(?<![\w-])((?=[0-9]*[a-f])(?=[a-f]*[0-9])"
        r"(?:[0-9a-f]{7,12}|[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}))(?![\w-])"
    ),
    re.compile(
        r"(?i)(?<![\w-])([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?![\w-])"
    ),
    # Prices and amounts: $1,299.00, USD 300, S/ 120.50, MXN 1,500; 1.234,56 €, 45,90 euros.
    re.compile(
        r"((?:[$€£¥₦₹₱₵]|US\$|S/\.?|R\$|\bN(?=\d{1,3}(?:,\d{3})+)|"
        r"\b(?:USD|EUR|GBP|MXN|ARS|CLP|COP|PEN|BRL|INR|NGN|KES|KSh|GHS|ZAR|PHP|Rs\.?))"
        r"[ \t]?\d(?:[\d.,']*\d)?)"
    ),
    re.compile(
        r"(?<![\w.,])(\d(?:[\d.,']*\d)?[ \t]?(?:[€$£]|(?:USD|EUR|GBP|MXN|ARS|CLP|COP|PEN|"
        r"euros?|d[oó]lares|pesos|soles|rupees)\b))"
    ),
)


def keep_spans(text: str) -> list[Span]:
    """Spans of ``text`` that are non-personal identifiers by shape and the word before them."""
    spans: list[Span] = []
    for pattern in _KEEP_PATTERNS:
        spans.extend(m.span(1) for m in pattern.finditer(text))
    return spans


# Types whose recognizers read a keyword or an "@" (never a bare number): a KEEP string next to
# them does not make them less certain. A random-looking token is the exception.
_KEYWORD_TYPES = frozenset({"SECRET", "EMAIL_ADDRESS", "URL_CREDENTIALS"})


def _strong(finding: Finding) -> bool:
    if finding.recognizer == "label" or finding.score >= STRONG_SCORE:
        return True
    return finding.entity_type in _KEYWORD_TYPES and finding.recognizer != "high_entropy_token"


def drop_hard_negatives(
    text: str, findings: Sequence[Finding], labelled_keep: Sequence[Span] = ()
) -> list[Finding]:
    """``findings`` without the weak ones that overlap a hard-negative span."""
    weak = [f for f in findings if not _strong(f)]
    if not weak:
        return list(findings)
    spans = sorted([*labelled_keep, *keep_spans(text)])
    if not spans:
        return list(findings)
    starts = [s for s, _ in spans]
    reach = _running_max_end(spans)
    dropped = {id(f) for f in weak if _overlaps_any(f, starts, reach)}
    return [f for f in findings if id(f) not in dropped]


def _running_max_end(spans: Sequence[Span]) -> list[int]:
    """``reach[i]``: the furthest end among ``spans[0..i]`` (spans sorted by start)."""
    reach, best = [], -1
    for _, end in spans:
        best = max(best, end)
        reach.append(best)
    return reach


def _overlaps_any(finding: Finding, starts: list[int], reach: list[int]) -> bool:
    """Does ``finding`` overlap a span? (the spans starting before its end, via bisect)."""
    index = bisect.bisect_left(starts, finding.end) - 1
    return index >= 0 and reach[index] > finding.start
