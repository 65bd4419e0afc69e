"""Rebuilds ``language_profiles.json``, the character-trigram counts used by ``language``.

Development tool, not used at run time. Source text: the translation catalogs (``.po``)
that ship with the pinned Django (django/conf and django/contrib), an offline corpus of
UI sentences per language. English uses the catalogs' msgid strings, the other languages
their msgstr translations. Placeholders, markup and URLs are removed before counting.

Run: ``.venv/bin/python -m datasets_app.pipeline.language_profiles_build``
"""

from __future__ import annotations

import ast
import collections
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path

from datasets_app.pipeline.language import LATIN_LANGUAGES, PROFILE_PATH, trigrams

_PO_ENTRY = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) (".*")$')
_PLACEHOLDERS = re.compile(r"%\([^)]*\)[a-z]|%[a-z]|\{[^}]*\}|<[^>]+>|https?://\S+")


def _django_root() -> Path:
    spec = importlib.util.find_spec("django")
    if spec is None or spec.origin is None:
        raise SystemExit("Django is not installed in this environment")
    return Path(spec.origin).parent


def po_strings(path: Path, field: str) -> Iterator[str]:
    """Yields the non-empty strings of one field kind ("msgid" or "msgstr") of a .po file."""
    current, parts = None, []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = line.strip()
        entry = _PO_ENTRY.match(line)
        if line.startswith('"') and current:
            parts.append(ast.literal_eval(line))
            continue
        if current and current.startswith(field) and "".join(parts):
            yield "".join(parts)
        current, parts = (
            (entry.group(1), [ast.literal_eval(entry.group(2))]) if entry else (None, [])
        )


def corpus(language: str) -> Iterator[str]:
    """Yields the catalog strings of one language (English: msgid of the Spanish catalogs)."""
    catalog, field = ("es", "msgid") if language == "en" else (language, "msgstr")
    for path in sorted(_django_root().glob(f"**/locale/{catalog}/LC_MESSAGES/*.po")):
        for text in po_strings(path, field):
            if "Project-Id-Version" not in text:
                yield _PLACEHOLDERS.sub(" ", text)


def build() -> dict[str, dict[str, object]]:
    """Returns {language: {"total": trigram count, "counts": {trigram: count}}}."""
    profiles: dict[str, dict[str, object]] = {}
    for language in LATIN_LANGUAGES:
        counts: collections.Counter[str] = collections.Counter()
        for text in corpus(language):
            counts.update(trigrams(text))
        profiles[language] = {"total": sum(counts.values()), "counts": dict(sorted(counts.items()))}
    return profiles


def main() -> None:
    """Writes the profiles next to ``language.py``."""
    payload = {"source": "Django translation catalogs (.po)", "languages": build()}
    PROFILE_PATH.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), "utf-8")
    print(f"wrote {PROFILE_PATH}")


if __name__ == "__main__":
    main()
