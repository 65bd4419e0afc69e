"""Word lists that the name heuristics and the NER false-positive filters consult.

* first names / surnames: ``names/lexicon.txt`` (built by ``pii_names_build``
  from Faker's tables for every locale, a CC0 list of the most common names of
  106 countries, Wikidata's given and family names, and a curated supplement).
  Core entries (English/Spanish locales and neighbours) count as names even
  when they are ordinary words ("Rosa", "Mark"); wide entries only when they
  are not ordinary English or Spanish words, so a Turkish "Can" or an Icelandic
  "Eva" never turns "Can you..." into a name;
* common words: spaCy's stop words plus the lemma index tables bundled in the
  installed spaCy models (WordNet-derived for English), read straight from the
  model folder (msgpack via ``spacy.lookups``; no pickle);
* a small hand list of words that start a capitalised phrase but are never a
  person ("Team", "Customer", "Soporte").

``is_common(word)`` answers "is this an ordinary word (not a known name)?".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

LEXICON_PATH = Path(__file__).with_name("names") / "lexicon.txt"
NEVER_PERSON = frozenset(
    """team all everyone everybody there customer customers client clients sir madam madame
    support colleagues colleague friends friend folks guys user users admin administrator
    manager sales hr it ops devops security service services department staff member members
    world again in on for the a an and or of to with no yes ok hello hi dear thanks thank
    regards best cheers sincerely ticket order account invoice report update request issue
    monday tuesday wednesday thursday friday saturday sunday january february march april
    june july august september october november december
    equipo todos todas cliente clientes señor señora señores usuario usuaria usuarios soporte
    compañeros compañeras amigos amigas departamento servicio atención hola gracias saludos
    estimado estimada estimados querido querida lunes martes miércoles jueves viernes sábado
    domingo enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre
    diciembre doctor doctora paciente empresa tel tlf telf fax email mail ext ref dni nie nif
    iban asunto subject re fw fwd cc bcc attn mrn hpi pt dob ssn id presupuesto reunión""".split()
)
# Given names that are also everyday English or Spanish words: never taken for a name when
# written in lower case without another cue ("la luz", "we will", "rosa palo").
LOWERCASE_WORD_NAMES = frozenset(
    """rosa luz sol mar paz pilar dolores blanca amparo consuelo soledad salvador victoria
    esperanza milagros remedios gloria alba aurora flor estrella iris violeta jade rocio rocío
    reyes cruz angeles ángeles caridad dulce cielo belen belén abril mayo domingo fe reina
    pastor leon león leo will mark bill rose grace hope joy faith june may april august summer
    dawn daisy ivy ruby pearl amber crystal sky rain storm river ocean forest hunter chase drew
    dean grant frank rich earl guy jack lance miles rob ray sue pat don bob art max nova
    mercedes angel ángel patria camino ventura fortuna clara alegria alegría felicidad justo
    benigno modesto amable honey candy cherry destiny harmony heaven liberty melody misty
    sunny star autumn winter spring brook cliff dale glen heath rocky sandy stone wolf bear
    hawk fox gay happy lucky lady duke king prince princess baron major marshal sterling
    carmen lola nina nena china mora negra blanco rubio moreno rey santos salud tierra
    cristal diamante coral perla oro plata esmeralda celeste azul verde linda bella hermosa
    bonita preciosa alta baja alto real franco leal santa cierto""".split()
)
NON_NAME_TOKENS = frozenset(
    """inc llc ltd corp corporation co company group plc gmbh sa sl bank banco street st avenue
    road calle avenida plaza hospital clinic clínica university universidad college school
    team support services service department ministry office oficina app server api cloud
    database error warning info debug hnos hermanos asociados sociedad comercial inversiones
    instalaciones construcciones servicios grupo industrias farmacéutica farmaceútica consultoría
    distribuciones transportes promociones coop cía compañía holdings partners associates sons
    llp pllc lp ltda""".split()
)


def read_name_lexicon(path: Path = LEXICON_PATH) -> dict[str, set[str]]:
    """``{"CF": {...}, "CS": ..., "WF": ..., "WS": ...}``: lower-cased names by tier and kind,
    from the generated lexicon and the hand-curated supplement (read here too, so an entry added
    to ``names/supplement.txt`` counts without regenerating the lexicon)."""
    from datasets_app.pipeline.pii_names_build import SUPPLEMENT_PATH, supplement_names

    table: dict[str, set[str]] = {"CF": set(), "CS": set(), "WF": set(), "WS": set()}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, name = line.partition(" ")
            table[key].add(name)
    if path == LEXICON_PATH:
        for tier, kind, name in supplement_names(SUPPLEMENT_PATH):
            table[tier + kind].add(name)
    return table


def _lemma_index_words(model_dir: Path, table_name: str = "lemma_index") -> set[str]:
    """Single words of a spaCy model's ``lemma_index`` table (or the inflected forms of its
    ``lemma_exc`` table: "said", "went"); empty when absent."""
    from spacy.lookups import Lookups

    lookups_dir = model_dir / "lemmatizer" / "lookups"
    if not lookups_dir.exists():
        return set()
    table = Lookups().from_disk(lookups_dir).get_table(table_name, {})
    words: set[str] = set()
    for values in table.values():
        words.update(w for w in values if w.isalpha())
    return words


def _stop_words() -> set[str]:
    from spacy.lang.en.stop_words import STOP_WORDS as english
    from spacy.lang.es.stop_words import STOP_WORDS as spanish

    return set(english) | set(spanish)


@dataclass(frozen=True)
class NameLexicon:
    """Name gazetteers and a common-word lexicon (all lower-case)."""

    first_names: frozenset[str]
    surnames: frozenset[str]
    common_words: frozenset[str]
    any_names: frozenset[str] = frozenset()
    inflected: frozenset[str] = frozenset()

    @classmethod
    def load(cls, model_dirs: Iterable[Path] = ()) -> NameLexicon:
        """Build from the name lexicon, spaCy stop words and the models' lemma indexes."""
        common = _stop_words() | set(NEVER_PERSON)
        inflected: set[str] = set()
        for model_dir in model_dirs:
            common |= _lemma_index_words(Path(model_dir))
            inflected |= _lemma_index_words(Path(model_dir), "lemma_exc")
        names = read_name_lexicon()
        return cls(
            first_names=frozenset(names["CF"] | (names["WF"] - common)),
            surnames=frozenset(names["CS"] | (names["WS"] - common)),
            common_words=frozenset(common | inflected),
            any_names=frozenset().union(*names.values()),
            inflected=frozenset(inflected),
        )

    def is_name(self, word: str) -> bool:
        """True when ``word`` is a known first name or surname."""
        lowered = word.lower()
        return lowered in self.first_names or lowered in self.surnames

    def maybe_name(self, word: str) -> bool:
        """True when ``word`` is in the lexicon at all, even if it is also an ordinary word
        ("Lan", "Can"): enough where a label already says the value is a name."""
        return word.lower() in self.any_names or self.is_name(word)

    def ordinary_in_lower_case(self, word: str) -> bool:
        """True when ``word`` written in lower case is most likely an ordinary word even if it
        is also someone's name: stop words, inflected forms ("said"), word-names ("rosa")."""
        lowered = word.lower()
        return lowered in _STOPS or lowered in self.inflected or lowered in LOWERCASE_WORD_NAMES

    def is_common(self, word: str) -> bool:
        """True for an ordinary word that is not also a known name (stop words always count)."""
        lowered = word.lower()
        if lowered in _STOPS:
            return True
        common = lowered in NEVER_PERSON or lowered in self.common_words
        return common and not self.is_name(lowered)

    def in_dictionary(self, word: str) -> bool:
        """True when ``word`` is in the common-word lexicon at all (names included)."""
        return word.lower() in self.common_words


_STOPS = frozenset(_stop_words())
STOP_WORDS = _STOPS


def model_dirs_of(nlp_by_language: Mapping[str, object]) -> list[Path]:
    """Folders of loaded spaCy pipelines (``nlp.path``), skipping blank ones."""
    dirs = []
    for nlp in nlp_by_language.values():
        path = getattr(nlp, "path", None)
        if path is not None:
            dirs.append(Path(path))
    return dirs
