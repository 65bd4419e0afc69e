"""Regex specs for street addresses in English (US style) and Spanish.

English: ``123 Main St``, ``09906 Pierce Harbors Apt. 040`` plus an optional
``City, ST 12345`` line. Spanish: ``Calle Mayor 5, 3ºB``, ``C/ Alcalá 12``,
``Avda. de la Constitución 3`` plus an optional ``28013 Madrid`` /
``Madrid, 28013`` tail. Street-type vocabularies are the USPS suffix list and
the Spanish INE road-type list, not tied to any generator.
"""

from __future__ import annotations

import re

from datasets_app.pipeline.pii_types import ADDRESS, LOCATION
from datasets_app.pipeline.recognizers import PatternSpec

# USPS Publication 28, C1 street suffixes (full forms + common abbreviations).
_US_SUFFIXES = (
    "Alley Aly Anex Arcade Avenue Ave Av Bayou Beach Bend Bluff Bluffs Bottom Boulevard Blvd "
    "Branch Bridge Brook Brooks Burg Burgs Bypass Camp Canyon Cape Causeway Center Centers Ctr "
    "Circle Circles Cir Cliff Cliffs Club Common Commons Corner Corners Course Court Courts Ct "
    "Cove Coves Creek Crescent Crest Crossing Crossroad Curve Dale Dam Divide Drive Drives Dr "
    "Estate Estates Expressway Expy Extension Extensions Fall Falls Ferry Field Fields Flat "
    "Flats Ford Fords Forest Forge Forges Fork Forks Fort Freeway Fwy Garden Gardens Gateway "
    "Glen Glens Green Greens Grove Groves Harbor Harbors Haven Heights Hts Highway Hwy Hill "
    "Hills Hollow Inlet Island Islands Isle Junction Junctions Key Keys Knoll Knolls Lake Lakes "
    "Land Landing Lane Ln Light Lights Loaf Lock Locks Lodge Loop Mall Manor Manors Meadow "
    "Meadows Mews Mill Mills Mission Motorway Mount Mountain Mountains Neck Orchard Oval "
    "Overpass Park Parks Parkway Parkways Pkwy Pass Passage Path Pike Pine Pines Place Pl Plain "
    "Plains Plaza Plz Point Points Port Ports Prairie Radial Ramp Ranch Rapid Rapids Rest Ridge "
    "Ridges River Road Roads Rd Route Row Rue Run Shoal Shoals Shore Shores Skyway Spring "
    "Springs Spur Spurs Square Squares Sq Station Stravenue Stream Street Streets St Summit "
    "Terrace Ter Throughway Trace Track Trafficway Trail Trl Trailer Tunnel Turnpike Underpass "
    "Union Unions Valley Valleys Via Viaduct View Views Village Villages Ville Vista Walk Walks "
    "Wall Way Ways Well Wells"
).split()
# Spanish road types (INE "tipos de vía") and their usual abbreviations.
_ES_PREFIXES = (
    r"Calle|C/|C\.|Cl\.|Avenida|Avda\.?|Av\.|Paseo|P[ºo]\.?|Plaza|Pza\.?|Pl\.|Camino|Cmno\.?|"
    r"Carretera|Ctra\.?|Ronda|Rda\.?|Traves[ií]a|Trva\.?|Glorieta|Gta\.?|Pasaje|Pje\.?|Rambla|"
    r"Alameda|Urbanizaci[oó]n|Urb\.?|Cuesta|V[ií]a|Vial|Callej[oó]n|Ca[ñn]ada|Acceso|Bulevar|"
    r"Blvr\.?|Costanilla|Plazuela|Pol[ií]gono|Carrer|Avinguda|Passeig|R[uú]a|Pasadizo|Sector|"
    r"Partida|Barrio|Bo\.|Colonia|Ribera|Senda|Muelle|Explanada|Prolongaci[oó]n"
)

_CAP = r"[A-ZÁÉÍÓÚÑÜ][\wÁÉÍÓÚÑÜáéíóúñü'’.-]*"
_CAP_OR_NUM = rf"(?:{_CAP}|\d+(?:st|nd|rd|th)?)"
_US_SUFFIX_ALT = "|".join(sorted(_US_SUFFIXES, key=len, reverse=True))
_US_UNIT = r"(?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl|Room|Rm|Bldg|Building|#)\.?\s*#?\s*[\w-]{1,6}"
_US_CITY_LINE = (
    r"(?:[ \t]*,?[ \t]*\n?[ \t]*[A-Z][A-Za-z .'-]{1,40},[ \t]*[A-Z]{2}[ \t]+\d{5}(?:-\d{4})?"
    r"|[ \t]*,[ \t]*[A-Z][a-z]+(?:[ \t]+[A-Z][a-z]+){0,2}(?=[ \t]*(?:[.;)»\"\n]|$)))"
)
_US_STREET = (
    rf"\b(\d{{1,6}}[A-Z]?(?:[ \t]+(?:[NSEW]\.?|North|South|East|West))?(?:[ \t]+{_CAP_OR_NUM}){{1,4}}"
    rf"[ \t]+(?i:{_US_SUFFIX_ALT})\b\.?(?:,?[ \t]*(?i:{_US_UNIT}))?{_US_CITY_LINE}?)"
)
_US_MILITARY = r"\b((?:USNS|USNV|USS|USCGC|PSC|Unit)[ \t]+[\w ,]{2,30}\n?[ \t]*(?:FPO|APO|DPO)[ \t]+A[AEP][ \t]+\d{5})"

_ES_LINK = r"(?:de(?:[ \t]+(?:la|las|los))?|del|la|las|los|y|el|d'|l')"
_ES_NAME = rf"(?:{_ES_LINK}[ \t]+)?{_CAP}(?:[ \t]+(?:{_ES_LINK}[ \t]+)?{_CAP}){{0,5}}"
_ES_NUMBER = r"(?:,?[ \t]*(?:n[º°o]\.?|núm\.?|num\.?|número)?[ \t]*\d{1,4}[A-Za-z]?(?![\d/.-]\d))"
_ES_DETAIL = (
    r"(?:,?[ \t]*(?:\d{1,2}[ºª°][ \t]?-?[ \t]?[A-Za-z]?\b|\d{1,2}[ \t]?-?[ \t]?[A-Z]\b|"
    r"(?:Puerta|Piso|Planta|Pta\.?|Esc(?:alera)?\.?|Bloque|Blq\.?|Portal|Apt\.?|Local)"
    r"[ \t]*[\wºª]{1,4}|bajo|[Ááa]tico|entlo\.?|izq(?:uierda|da)?\.?|dcha\.?|derecha))"
)
_ES_CITY = (
    r"[A-ZÁÉÍÓÚÑ][\wáéíóúñü'-]*(?:[ \t]+(?:(?:de|del|la|las|los|el|y|d')[ \t]+)?"
    r"[A-ZÁÉÍÓÚÑ][\wáéíóúñü'-]*){0,4}"
)
_ES_TAIL = (
    rf"(?:[ \t]*,?[ \t]*\n?[ \t]*(?:\d{{5}}[ \t,]+{_ES_CITY}(?:[ \t]*\([A-ZÁÉÍÓÚÑ][\w ]+\))?"
    rf"|{_ES_CITY},[ \t]*\d{{5}})"
    rf"|[ \t]*,[ \t]*{_ES_CITY}(?=[ \t]*(?:[.;)»\"\n]|$)))"
)
_ES_STREET = (
    rf"(?<![\w])((?:{_ES_PREFIXES})[ \t]*{_ES_NAME}{_ES_NUMBER}(?:{_ES_DETAIL}){{0,3}}{_ES_TAIL}?)"
)
_CITY_EN = r"[A-Z][a-z]+(?:[ \t]+(?:of[ \t]+)?[A-Z][a-z]+){0,2}"
_LIVES_IN_EN = (
    rf"(?<!\w)(?i:lives|living|resides|residing|moved|relocated|relocating|based|home|born)"
    rf"[ \t]+(?i:in|to|at)[ \t]+({_CITY_EN})"
)
_LIVES_IN_ES = (
    rf"(?<!\w)(?i:vive|viven|reside|residente|domiciliad[oa]|empadronad[oa]|mudó|mudado|mudada|"
    rf"natural|nacid[oa]|domicilio)[ \t]+(?i:en|a|de)[ \t]+({_ES_CITY})"
)

# --- Latin America and Spain, any case (scanned letters are often upper case) -----------------
# Road types of Mexico (INEGI), Colombia (Cra., Cl., Dg., Tv., "#" numbering), Argentina,
# Chile, Peru (Jr., Psje., Mz./Lt.), Spain (C/, Avda.) and Catalan/Galician/Portuguese forms.
_LATAM_TYPES = (
    r"calle|c/|cl\.?|cll\.?|carrera|cra\.?|kra\.?|kr\.?|cr\.?|avenida|av\.?|avda\.?|avd\.?|"
    r"diagonal|dg\.?|transversal|tv\.?|trans\.?|jir[oó]n|jr\.?|pasaje|psje\.?|pje\.?|paseo|"
    r"p[ºo]\.?|plaza|pza\.?|camino|carretera|ctra\.?|ronda|boulevard|bulevar|blvd\.?|calzada|"
    r"calz\.?|privada|priv\.?|cerrada|cda\.?|andador|circuito|prolongaci[oó]n|prol\.?|"
    r"autopista|ruta|manzana|mz\.?|mza\.?|urbanizaci[oó]n|urb\.?|rambla|traves[ií]a|alameda|"
    r"v[ií]a|carrer|avinguda|passeig|r[uú]a|estrada|pra[cç]a|callej[oó]n|glorieta|costanera|"
    r"malec[oó]n|sector|pasadizo|trav\.?"
)
_W = r"[^\W\d_][\w'’.ºª°-]*"  # a word in any case
_LATAM_NAME = (
    rf"(?:{_W}|\d{{1,3}}[A-Za-z]?(?:[ \t]+bis)?)(?:[ \t]+(?:{_W}|\d{{1,3}}[A-Za-z]?)){{0,5}}?"
)
_LATAM_NUMBER = (
    r"(?:[ \t]*,?[ \t]*(?:#|n[º°o]\.?|nro\.?|n[uú]m\.?|n[uú]mero|no\.)[ \t]*\d{1,5}[A-Za-z]?"
    r"(?:[ \t]*(?:bis|sur|norte|este|oeste))?(?:[ \t]*-[ \t]*\d{1,4}[A-Za-z]?)?"
    r"|[ \t]*,?[ \t]+\d{1,5}[A-Za-z]?(?:[ \t]*-[ \t]*\d{1,4}[A-Za-z]?)?"
    r"|[ \t]+s/n)"
)
_LATAM_DETAIL = (
    r"(?:[ \t]*[,-]?[ \t]*(?i:piso|planta|puerta|pta\.?|depto\.?|dpto\.?|dto\.?|departamento|"
    r"apto\.?|apartamento|int\.?|interior|of\.?|oficina|local|torre|bloque|blq\.?|bl\.?|esc\.?|"
    r"escalera|casa|lote|lt\.?|mz\.?|manzana|bajo|portal|ext\.?|exterior|edif\.?|edificio|"
    r"block)\.?[ \t]*[\wºª°]{1,5}\.?(?:[ \t]*[\wºª°]{1,2}\b)?"
    r"|[ \t]*,?[ \t]*\d{1,2}[ºª°][ \t]?-?[ \t]?[A-Za-z]?\b"
    r"|[ \t]*,?[ \t]*(?i:izq(?:uierda|da)?|izda|iz|dcha|dr|derecha|[aá]tico|entlo)\.?\b"
    r"|[ \t]+[A-Z]\d{1,2}\b)"
)
# Locality pieces after the street: neighbourhood, postcode, city, state, country.
_LOCALITY_WORDS = (
    r"(?:(?i:col\.?|colonia|barrio|b[º°]\.?|urb\.?|urbanizaci[oó]n|fracc\.?|fraccionamiento|"
    r"villa|pobl\.?|poblaci[oó]n|sector|comuna|distrito|delegaci[oó]n|alcald[ií]a|mun\.?|"
    r"municipio|c\.?[ \t]?p\.?|cp|c[oó]digo postal|provincia|prov\.?|dpto\.?|departamento|"
    r"localidad|partido|cant[oó]n|parroquia)[ \t:]*)?"
)
_CAP_W = r"[A-ZÁÉÍÓÚÑÜ][\w'’.ºª°-]*"
_PLACE_WORD = rf"(?:{_CAP_W}|\d{{4,6}}|[A-Z]\d{{4}}[A-Z]{{3}})"
_PLACE = (
    rf"{_PLACE_WORD}(?:[ \t]+(?:(?:de|del|la|las|los|el|y)[ \t]+)?{_PLACE_WORD}){{0,4}}"
    r"(?:[ \t]+\d{1,2}\b)?"
)
_UPPER_PLACE = (
    r"(?:[A-ZÁÉÍÓÚÑÜ]{2,}[A-ZÁÉÍÓÚÑÜ.'-]*|\d{4,6})(?:[ \t]+(?:[A-ZÁÉÍÓÚÑÜ]{2,}[A-ZÁÉÍÓÚÑÜ.'-]*|"
    r"DE|DEL|LA|LOS|\d{1,6}))*"
)
# A locality piece after a comma or " - " in any capitalisation; on its own line only in
# capitals or as a postcode ("LIMA 1", "01008 VITORIA-GASTEIZ"), never a line of prose.
_LOCALITY = (
    rf"(?:[ \t]*(?:,|[ \t]-[ \t])[ \t]*{_LOCALITY_WORDS}{_PLACE}(?:[ \t]*\([^()\n]{{2,30}}\))?"
    rf"|[ \t]*\n[ \t]*{_LOCALITY_WORDS}{_UPPER_PLACE}(?:[ \t]*\([^()\n]{{2,30}}\))?)"
)
_LATAM_STREET = (
    rf"(?<![\w/])((?:(?i:depto|dpto|departamento|apto|apartamento|piso|oficina|of|casa|local)"
    rf"\.?[ \t]*[\w-]{{1,5}}[ \t]*(?:,|de|del|en)?[ \t]*)?"
    rf"(?i:{_LATAM_TYPES})(?:(?<=[./])|(?!\w))[ \t]*{_LATAM_NAME}{_LATAM_NUMBER}(?:{_LATAM_DETAIL}){{0,3}}"
    rf"{_LOCALITY}{{0,5}})"
)

# --- United Kingdom, France, India -------------------------------------------------------------
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]*\d[A-Z]{2}"
_UK_TYPES = (
    "Street|St|Road|Rd|Lane|Ln|Avenue|Ave|Close|Crescent|Cres|Drive|Dr|Gardens|Gdns|Grove|"
    "Place|Pl|Square|Sq|Terrace|Terr|Way|Court|Ct|Mews|Row|Walk|Hill|Green|Park|Parade|Rise|"
    "Vale|View|Wharf|Yard|Gate|Mount|Close|Esplanade|Embankment|Broadway|Circus|Chase|Croft|"
    "Fold|Meadow|Meadows|Path|Reach|Villas|Cottages|Buildings|House|Estate|Market|Quay|End"
)
_UK_STREET = (
    rf"(?<![\w])((?:(?i:flat|apartment|apt|unit|suite)\.?[ \t]*\w{{1,5}},?[ \t]*(?:\n[ \t]*)?)?"
    rf"\d{{1,4}}[A-Za-z]?,?[ \t]+(?:[A-Z][\w'’-]*[ \t]+){{1,3}}(?i:{_UK_TYPES})\b\.?"
    rf"(?:[ \t]*(?:,|\n)[ \t]*[A-Z][a-zA-Z'’-]*(?!\w)(?:[ \t]+[A-Z][a-zA-Z'’-]*(?!\w)){{0,3}}){{0,3}}"
    rf"(?:[ \t]*(?:,|\n)?[ \t]*{_UK_POSTCODE})?)"
)
_FR_TYPES = (
    r"rue|avenue|av\.|boulevard|bd|bld|place|pl\.|all[ée]e|impasse|chemin|quai|cours|route|"
    r"square|passage|r[ée]sidence|cit[ée]|villa|hameau|lieu-dit|faubourg|fbg"
)
_FR_STREET = (
    rf"(?<![\w])(\d{{1,4}}(?:[ \t]*(?:bis|ter|quater|[A-D]))?,?[ \t]+(?i:{_FR_TYPES})[ \t]+"
    rf"(?:(?i:de|du|des|la|le|les|l['’]|d['’])[ \t]*)*{_W}(?:[ \t]+{_W}){{0,4}}?"
    rf"(?:[ \t]*(?:,|\n)[ \t]*\d{{5}}[ \t]+{_W}(?:[ \t-]+{_W}){{0,3}})?)"
)
_IN_STREET = (
    rf"(?<![\w])((?i:flat|house|h\.?[ \t]?no|plot|door|shop|villa|block|bldg|no)\b\.?[ \t]*"
    rf"(?:no\.?|#)?[ \t]*[\w/-]{{1,10}},?[ \t]+(?:{_W}[ \t,]+){{1,8}}?"
    rf"(?:{_W}[ \t]*[-,]?[ \t]*)?\d{{3}}[ \t]?\d{{3}})"
)
ADDRESS_CONTEXT = (
    "address", "addr", "lives", "live at", "located", "ship", "deliver", "mail to", "street",
    "dirección", "direccion", "domicilio", "vive", "reside", "calle", "envío", "envio", "entrega",
    "adresse", "home", "residence", "residencia", "postal",
)  # fmt: skip


_STOP_WORDS_IN_ADDRESS = re.compile(
    r"(?i)[ \t](?:y|and|that|que|para|por|porque|because|but|pero|is|es|was|fue|the|el|la|"
    r"los|las|un|una|a|to|in|en|on|at|with|con|of|if|si|when|cuando|please|gracias|thanks)"
    r"[ \t,.]*$"
)


_PROSE_AFTER_TYPE = re.compile(
    r"(?i)^\S+[ \t]+(?:es|era|fue|is|was|el|the|un|una|a|en|con|que|y|por|para|muy|"
    r"lunes|martes|mi[eé]rcoles|jueves|viernes|s[aá]bado|domingo)\b"
)


def _latam_accept(value: str) -> int:
    """Trim trailing sentence words a locality piece swallowed ("..., Lima y luego"); reject a
    road-type word used as an ordinary word ("el paseo es el viernes 13")."""
    if _PROSE_AFTER_TYPE.match(value):
        return 0
    trimmed = value.rstrip(" \t,.-")
    while True:
        match = _STOP_WORDS_IN_ADDRESS.search(trimmed)
        if not match:
            break
        trimmed = trimmed[: match.start()].rstrip(" \t,.-")
    if not re.search(r"\d|s/n", trimmed, re.IGNORECASE):
        return 0
    return len(trimmed)


_SPOKEN = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_US_LOWER_TYPES = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|way|court|ct|place|pl|"
    r"terrace|parkway|pkwy|highway|hwy|circle|cir"
)
# Addresses read aloud or typed in lower case: "1827 north 45th street unit 204 seattle 98103",
# "4410 rainier avenue south apartment 3 b seattle washington nine eight one one eight".
_US_LOWER = (
    rf"(?<![\w-])(\d{{1,6}}[ \t]+(?:[a-z0-9]+[ \t]+){{1,4}}(?:{_US_LOWER_TYPES})\b"
    r"(?:[ \t]+(?:north|south|east|west|ne|nw|se|sw))?"
    r"(?:[ \t]+(?:apartment|apt|unit|suite|#)[ \t]*\w{1,5}(?:[ \t]\w\b)?)?"
    rf"(?:[ \t]+[a-z]+){{1,3}}?[ \t,]+(?:\d{{5}}(?:-\d{{4}})?|{_SPOKEN}(?:[ \t]+{_SPOKEN}){{4}}))"
)
# Postcodes distinctive enough alone: UK (with its space) and Argentina's CPA.
# Continental European street lines: street (name first, number after), then a postcode and a
# capitalised city: "Bloemgracht 142-III, 1015 TN Amsterdam", "Kungsgatan 44, 411 19 Göteborg",
# "Str. Avram Iancu 27, ap. 4, 400089 Cluj-Napoca", "ul. Długa 5/7, 00-238 Warszawa". Postcodes
# of the Netherlands, Sweden, Poland, Romania and five-digit ones (Germany, Italy...); a bare
# four-digit group is too often a year to count.
_EU_POSTCODE = r"(?:\d{4}[ ]?[A-Z]{2}|\d{3}[ ]\d{2}|\d{2}-\d{3}|\d{5,6})"
# With a five- or six-digit postcode ("Chapter 12, 20145 Results" is no address) the street
# must name itself a street.
_EU_STREET_WORD = re.compile(
    r"(?i)(?:^(?:str|ul|al|bd|calea|via|viale|rua|corso)\b|stra(?:ss|ß)e\b|str\.|weg\b|"
    r"gasse\b|platz\b|allee\b|ring\b|damm\b|gatan\b|v[äa]gen\b|gade\b|vej\b|straat\b|"
    r"gracht\b|laan\b|kade\b|plein\b|singel\b|dijk\b|ulica\b|aleja\b|strada\b)"
)
_EU_STREET = (
    rf"(?<![\w])((?:(?i:str|ul|al|bd|calea|via|viale|rua|corso)\.?[ \t]+)?[A-ZÀ-ÞĀ-Ž][\w'’.-]+"
    rf"(?:[ \t]+(?:[A-ZÀ-ÞĀ-Ž][\w'’.-]*|van|de|der|den|la|le|di|del|des|du|von|op|aan|het|"
    rf"am|an|im|zum|zur)){{0,3}}[ \t]+\d{{1,4}}[A-Za-z]?(?:[-/][\w]{{1,4}})?"
    rf"(?:,[ \t]*(?i:ap|apt|app|et|etaj|m|lok|bus|box)\.?[ \t]*\w{{1,4}})?"
    rf",[ \t]*({_EU_POSTCODE})[ \t]+[A-ZÀ-ÞĀ-Ž][\w'’-]+(?:[ \t-][A-ZÀ-ÞĀ-Ž][\w'’-]+)?)(?![\w])"
)


def _eu_street_accept(value: str) -> int:
    """A street line with a distinctive postcode; with a bare five- or six-digit one only when
    the street names itself a street."""
    postcode = re.search(rf",[ \t]*({_EU_POSTCODE})[ \t]", value)
    if postcode and postcode.group(1).isdigit() and not _EU_STREET_WORD.search(value):
        return 0
    return _without_final_period(value)


_POSTCODES = r"(?<![\w-])([A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}|[A-HJ-NP-Z]\d{4}[A-Z]{3})(?![\w-])"


def _without_final_period(value: str) -> int:
    """Accept the value without the sentence's closing period ("..., 75002 Paris.")."""
    return len(value.rstrip(". "))


def address_specs() -> list[PatternSpec]:
    """Street address specs (US, US military, Spain and Latin America, UK, France, India)."""
    return [
        PatternSpec(
            "street_address_en", ADDRESS, re.compile(_US_STREET), 0.7, group=1,
            context=ADDRESS_CONTEXT, digits=True,
        ),
        PatternSpec(
            "military_address_en", ADDRESS, re.compile(_US_MILITARY), 0.7, group=1, digits=True
        ),
        PatternSpec(
            "street_address_es", ADDRESS, re.compile(_ES_STREET), 0.7, group=1,
            context=ADDRESS_CONTEXT, digits=True,
        ),
        PatternSpec(
            "street_address_latam", ADDRESS, re.compile(_LATAM_STREET), 0.75, group=1,
            context=ADDRESS_CONTEXT, digits=True, accept=_latam_accept,
        ),
        PatternSpec(
            "street_address_uk", ADDRESS, re.compile(_UK_STREET), 0.75, group=1,
            context=ADDRESS_CONTEXT, digits=True,
        ),
        PatternSpec(
            "street_address_fr", ADDRESS, re.compile(_FR_STREET), 0.75, group=1,
            context=ADDRESS_CONTEXT, accept=_without_final_period, digits=True,
        ),
        PatternSpec(
            "street_address_in", ADDRESS, re.compile(_IN_STREET), 0.75, group=1,
            context=ADDRESS_CONTEXT, digits=True,
        ),
        PatternSpec(
            "street_address_spoken", ADDRESS, re.compile(_US_LOWER), 0.75, group=1, digits=True
        ),
        PatternSpec(
            "street_address_eu", ADDRESS, re.compile(_EU_STREET), 0.75, group=1, digits=True,
            accept=_eu_street_accept,
        ),
        PatternSpec("postcode", ADDRESS, re.compile(_POSTCODES), 0.7, group=1, digits=True),
        PatternSpec(
            "lives_in", LOCATION, re.compile(_LIVES_IN_EN), 0.7, group=1,
            words=("live", "living", "resid", "moved", "reloc", "based", "home", "born"),
        ),
        PatternSpec(
            "lives_in", LOCATION, re.compile(_LIVES_IN_ES), 0.7, group=1,
            words=("vive", "reside", "domicil", "empadron", "mud", "natural", "nacid"),
        ),
    ]  # fmt: skip


# --- address blocks: "House 5, Road 12, Lekki Gardens Phase 2, Ajah, Lagos" ------------------
# Nigerian, Indian, Welsh, Philippine... addresses are a number or a unit followed by short
# comma- or line-separated parts (estate, area, city, state, postcode) rather than one street
# pattern. A block is taken when it starts with a number or a unit word, has three parts or
# more, each short and made of names, numbers or address words, and names a road or area
# word or a postcode somewhere.
_BLOCK_START = re.compile(
    r"(?i)(?<![\w.-])((?:flat|house|h\.?[ \t]?no|plot|door|shop|block|blk|no|apt|apartment|unit|"
    r"lot|suite|room|bldg)\.?[ \t]*(?:no\.?[ \t]*)?[\w/-]{0,6}\d[\w/-]*|\d{1,5}[A-Za-z]?)(?=[ \t]|,)"
)
# A part follows ", " or ",\n", never a bare "," (between CSV cells: "...MN 55106",P-07,...).
_BLOCK_PART = re.compile(r"[ \t]*(,(?:[ \t]*\n|[ \t]+)|[ \t]-[ \t])?[ \t]*([^,\n;:!?()]{1,48})")
_AREA_WORDS = re.compile(
    r"(?i)\b(?:street|st|road|rd|close|crescent|avenue|ave|lane|way|drive|estate|layout|cross|"
    r"main|nagar|colony|block|phase|sector|stage|gardens|apartments|apts|temple|island|state|"
    r"district|village|town|extension|enclave|marg|chowk|bazaar|heol|cwrt|ffordd|barangay|"
    r"brgy|subdivision|purok|compound|quarters|area|market|junction|park|view|court|terrace|"
    r"county|province|avenida|calle|rua)\b|\b\d{3}[ ]?\d{3}\b|\b\d{5,6}\b|\b[A-Z]{1,2}\d"
)
_PART_OK = re.compile(
    r"^(?:[\"“]?(?:[A-ZÀ-Þ0-9][\w'’./&-]*|(?i:off|near|opp\.?|behind|beside|by|de|del|la|y|"
    r"and|of|the|s/o|w/o|d/o)|[A-Za-z]|-)[\"”]?[ \t]*){1,7}$"
)


def address_blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of every address block of ``text`` (see above)."""
    found: list[tuple[int, int]] = []
    done = 0
    for start_match in _BLOCK_START.finditer(text):
        if start_match.start() < done:
            continue
        parts, position, has_area = 0, start_match.start(), False
        end = start_match.end()
        while parts < 9:
            part = _BLOCK_PART.match(text, position)
            if part is None or (
                parts and part.group(1) is None and position != start_match.start()
            ):
                break
            value = part.group(2).strip()
            if parts == 0:
                value = text[start_match.start() : part.end(2)].strip()
            if not value or not _PART_OK.match(value):
                break
            has_area = has_area or bool(_AREA_WORDS.search(value))
            parts, end, position = (
                parts + 1,
                part.start(2) + len(part.group(2).rstrip()),
                part.end(),
            )
        while end > start_match.start() and text[end - 1] in ' ."':
            end -= 1
        if (
            parts >= 3
            and (has_area or parts >= 5)
            and text.count(",", start_match.start(), end) >= 2
        ):
            found.append((start_match.start(), end))
            done = end
    return found
