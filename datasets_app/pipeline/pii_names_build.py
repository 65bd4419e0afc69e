"""Rebuilds ``names/lexicon.txt``, the first-name and surname lexicon of the PII detector.

Development tool, not used at run time. Sources (all allow commercial use; none is derived
from leaked personal data):

* Faker's person providers, every locale, values written in Latin script (MIT licence; the
  tables come from national statistics offices and public frequency lists). Faker is
  installed with the platform.
* "popular-names-by-country-dataset" by sigpwned (CC0): the most common given names and
  surnames of 106 countries from Wikipedia's lists, with romanisations of non-Latin names.
  Pass the folder holding ``common-forenames-by-country.csv`` and
  ``common-surnames-by-country.csv`` as ``--popular``.
* "wikidata-person-names" by EdJoPaTo (npm package, MIT; the names are Wikidata items of
  type given name / family name, CC0). Pass its ``index.mjs`` as ``--wikidata``.
* ``names/supplement.txt``: a hand-curated list for communities the others barely cover
  (Basque, Catalan, Galician, Nahuatl, Quechua, Aymara, Mapuche, Vietnamese, Polish, ...).

Each line of the output is ``<tier><kind> <name>``: kind ``F`` (given name) or ``S``
(surname); tier ``C`` (core: the English and Spanish locales and their neighbours, trusted
even when the name is also an ordinary word, "Rosa", "Mark") or ``W`` (wide: every other
source, only used when the word is not an ordinary English or Spanish word).

Run: ``.venv/bin/python -m datasets_app.pipeline.pii_names_build --popular DIR --wikidata FILE``
"""

from __future__ import annotations

import argparse
import csv
import importlib
import pkgutil
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

LEXICON_PATH = Path(__file__).with_name("names") / "lexicon.txt"
SUPPLEMENT_PATH = Path(__file__).with_name("names") / "supplement.txt"
CORE_LOCALES = frozenset(
    "en_US en_GB en_IE en_CA en_AU en_NZ es es_ES es_MX es_CO es_AR es_CL es_CA pt_BR pt_PT "
    "fr_FR it_IT de_DE".split()
)
_LATIN = re.compile(r"[A-Za-zÀ-ɏḀ-ỿ'’ .-]+")
_PART = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_PARTICLES = frozenset(
    "de del la las los y i van von der den da di le du dos das e al el bin ibn".split()
)


def name_parts(value: str) -> Iterator[str]:
    """Lower-cased words of a (possibly multi-word) name, particles dropped."""
    if not _LATIN.fullmatch(value):
        return
    for part in _PART.findall(value):
        lowered = part.lower()
        if len(lowered) >= 2 and lowered not in _PARTICLES:
            yield lowered


def faker_names() -> Iterator[tuple[str, str, str]]:
    """(tier, kind, name) from every Faker person provider."""
    import faker.providers.person as person

    for module in pkgutil.iter_modules(person.__path__):
        provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        tier = "C" if module.name in CORE_LOCALES else "W"
        for attribute in dir(provider):
            kind = "F" if attribute.startswith("first_") else "S"
            if not attribute.startswith(("first_name", "last_name", "first_romanized",
                                         "last_romanized")):  # fmt: skip
                continue
            values = getattr(provider, attribute)
            if isinstance(values, (dict, tuple, list)):
                for value in values:
                    for part in name_parts(str(value)):
                        yield tier, kind, part


def popular_names(folder: Path) -> Iterator[tuple[str, str, str]]:
    """(tier, kind, name) from the popular-names-by-country CSV files."""
    for filename, kind in (
        ("common-forenames-by-country.csv", "F"),
        ("common-surnames-by-country.csv", "S"),
    ):
        with (folder / filename).open(encoding="utf-8-sig", newline="") as stream:
            for row in csv.DictReader(stream):
                for column in ("Romanized Name", "Localized Name"):
                    for part in name_parts(row.get(column) or ""):
                        yield "W", kind, part


def wikidata_names(path: Path) -> Iterator[tuple[str, str, str]]:
    """(tier, kind, name) from the wikidata-person-names module (``export const X = [...]``)."""
    source = path.read_text(encoding="utf-8")
    for array, body in re.findall(r"export const (\w+) = \[(.*?)\];", source, re.S):
        kind = "S" if array == "FAMILY" else "F"
        for value in re.findall(r'"((?:[^"\\]|\\.)*)"', body):
            for part in name_parts(value):
                yield "W", kind, part


def supplement_names(path: Path = SUPPLEMENT_PATH) -> Iterator[tuple[str, str, str]]:
    """(tier, kind, name) from the hand-curated supplement: lines of kind ``F``/``S`` are wide,
    ``CF``/``CS`` core (names whose homograph is an obscure dictionary word: "Tolu", "Segun")."""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            kind, *values = line.split()
            tier, kind = ("C", kind[1:]) if kind.startswith("C") else ("W", kind)
            for value in values:
                for part in name_parts(value):
                    yield tier, kind, part


def merge(entries: Iterable[tuple[str, str, str]]) -> list[str]:
    """Output lines, one per (kind, name); a name in any core source is core."""
    best: dict[tuple[str, str], str] = {}
    for tier, kind, name in entries:
        if best.get((kind, name)) != "C":
            best[(kind, name)] = tier
    return [
        f"{tier}{kind} {name}"
        for (kind, name), tier in sorted(best.items(), key=lambda x: (x[0][1], x[0][0]))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--popular", type=Path, required=True)
    parser.add_argument("--wikidata", type=Path, required=True)
    args = parser.parse_args()
    lines = merge(
        [
            *faker_names(),
            *popular_names(args.popular),
            *wikidata_names(args.wikidata),
            *supplement_names(),
        ]
    )
    header = (
        "# Generated by datasets_app/pipeline/pii_names_build.py; sources and licences in its\n"
        "# docstring. <tier><kind> <name>: tier C (core) or W (wide), kind F (given) or S.\n"
    )
    LEXICON_PATH.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} entries written to {LEXICON_PATH}")


if __name__ == "__main__":
    main()
