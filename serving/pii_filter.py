"""Optional output filter of a deployment: personal data detected in a completion is replaced
by its type (``<EMAIL_ADDRESS>``) before the text leaves the server.

It uses the same detector as ingestion (``datasets_app.ingestion.detector_for``, one per
process). Detection needs the whole text, so a filtered stream is delivered in one piece at its
end.
"""

from __future__ import annotations

from typing import Any


def _detector() -> Any:
    from datasets_app.ingestion import detector_for
    from datasets_app.options import IngestOptions

    return detector_for(IngestOptions())


def _language(text: str) -> str:
    from datasets_app.pipeline.language import detect_language

    return "es" if detect_language(text) == "es" else "en"


def redact_completion(text: str) -> tuple[str, int]:
    """(text with detected spans replaced by ``<TYPE>``, number of spans replaced)."""
    if not text.strip():
        return text, 0
    findings = sorted(_detector().detect([text], [_language(text)])[0], key=lambda f: f.start)
    pieces, cursor, count = [], 0, 0
    for finding in findings:
        if finding.start < cursor:
            continue  # overlapping spans: the first one already covers it
        pieces.append(text[cursor : finding.start])
        pieces.append(f"<{finding.entity_type}>")
        cursor = finding.end
        count += 1
    pieces.append(text[cursor:])
    return "".join(pieces), count
