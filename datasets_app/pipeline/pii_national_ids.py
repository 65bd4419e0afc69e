"""Regex specs for government identifiers of Latin America, the UK, India and Brazil.

Each identifier that has a checksum is confirmed by it (``pii_validators``): a
value in the identifier's distinctive written form (``12.345.678-5``,
``20-12345678-6``, an 18-character CURP) is reported on its own; a bare run of
digits that happens to pass a checksum is only reported next to the
identifier's name ("RUT", "CUIT", "NHS", "Aadhaar"), because one random number
in ten or eleven passes a mod-11 check. Identifiers without a checksum (an
Argentine or Peruvian DNI, a Colombian cédula, passports, licences) come from
label evidence instead (``pii_context``). The checksum raises confidence; it is
not the only gate: ``pii_context`` reports a labelled value whose check digit is
wrong, because a typo does not make a person's number less personal.

Every spec reports ``NATIONAL_ID`` (bank keys: ``IBAN_CODE``); the spec name
(``cl_rut``, ``mx_curp``...) says which identifier it is.
"""

from __future__ import annotations

import re

from datasets_app.pipeline import pii_validators as v
from datasets_app.pipeline.pii_types import IBAN_CODE, MEDICAL_ID, NATIONAL_ID
from datasets_app.pipeline.recognizers import PatternSpec, whole

_B = r"(?<![\w.\-/])"  # no identifier character right before
_E = r"(?![\w\-/]|[.,]\d)"  # ... nor right after (a closing sentence period is fine)


def _spec(
    name: str,
    pattern: str,
    validator: object,
    score: float,
    *,
    context: tuple[str, ...] = (),
    requires_context: bool = False,
    entity_type: str = NATIONAL_ID,
    flags: int = 0,
) -> PatternSpec:
    return PatternSpec(
        name,
        entity_type,
        re.compile(_B + "(" + pattern + ")" + _E, flags),
        score,
        group=1,
        accept=whole(validator),  # type: ignore[arg-type]
        context=context,
        context_score=0.9,
        requires_context=requires_context,
        window=32,
        digits=True,
    )


RUT_CONTEXT = ("rut", "r.u.t", "run", "rol único", "rol unico")
CUIT_CONTEXT = ("cuit", "cuil", "c.u.i.t", "c.u.i.l", "cdi")
NHS_CONTEXT = ("nhs", "n.h.s", "health service")
AADHAAR_CONTEXT = ("aadhaar", "aadhar", "uidai", "uid")
CPF_CONTEXT = ("cpf",)
RUC_CONTEXT = ("ruc",)
NSS_CONTEXT = ("nss", "seguridad social", "afiliación", "afiliacion", "n.s.s", "naf")
BANK_CONTEXT = ("cbu", "clabe", "cuenta", "account", "transferencia", "transfer", "depósito")


# Words that name a person's identifier in any language we read; a bare number of seven to
# twelve digits close after one of them (within two lines of a transcript: "¿Me brinda su
# DNI?\nCLIENTE: 10447182.") is that identifier.
ID_CONTEXT = (
    "dni",
    "d.n.i",
    "cédula",
    "cedula",
    "documento",
    "rut",
    "run",
    "cuit",
    "cuil",
    "nin",
    "bvn",
    "passport",
    "pasaporte",
    "ssn",
    "social security",
    "seguridad social",
    "nss",
    "aadhaar",
    "identity",
    "identidad",
    "identification",
    "identificación",
    "id number",
    "curp",
    "nie",
    "nif",
    "ruc",
    "tarjeta sanitaria",
    "afiliado",
    "afiliada",
    "member id",
    "policy",
    "póliza",
)


# US Medicare Beneficiary Identifier (CMS): 11 characters, digits and letters at fixed places,
# never S, L, O, I, B or Z; written plain or 4-3-4 with dashes ("1EG4-TE5-MK73").
_MBI_L = "[AC-HJKMNP-RT-Y]"
_MBI_A = "[AC-HJKMNP-RT-Y0-9]"
_MBI = re.compile(
    rf"(?<![\w-])([1-9]{_MBI_L}{_MBI_A}\d-?{_MBI_L}{_MBI_A}\d-?{_MBI_L}{{2}}\d{{2}})(?![\w-])"
)


# Payment handles that name one person's account: Indian UPI IDs (NPCI's payment service
# provider handles: "name@ybl", "98xxxxxx@paytm") and Argentine CBU/CVU aliases ("alias
# ROLO.QUISPE.NACION"); India's ABHA health addresses ("name@abdm").
_UPI_HANDLES = (
    "ybl|ibl|axl|okaxis|okhdfcbank|okicici|oksbi|paytm|ptyes|ptaxis|pthdfc|ptsbi|upi|apl|yapl|"
    "axisbank|icici|sbi|hdfcbank|kotak|pnb|boi|barodampay|freecharge|jupiteraxis|fbl|idfcbank|"
    "rbl|federal|ikwik|timecosmos|waaxis|wahdfcbank|wasbi|waicici|yesbank|aubank|indus|unionbank"
)
_UPI_ID = re.compile(rf"(?<![\w.@-])([A-Za-z0-9][\w.-]{{1,48}}@(?:{_UPI_HANDLES}))(?![\w@-]|\.\w)")
_ABHA_ADDRESS = re.compile(r"(?<![\w.@-])([A-Za-z0-9][\w.-]{2,48}@(?:abdm|sbx))(?![\w@-]|\.\w)")
_CBU_ALIAS = re.compile(
    r"(?i)\balias(?:[ \t]+(?:cbu|cvu|de(?:[ \t]+la)?[ \t]+cuenta))?[ \t]*[:=-]?[ \t]*"
    r"((?-i:[A-Za-z0-9]{2,})(?:\.[A-Za-z0-9]{2,}){1,3})(?![\w.])"
)


# Insurance and medical member numbers with a letter prefix, close after their name (within
# two lines of a transcript): "número de afiliada? ...\nAFILIADA: Sí, es el VT-0087123-4",
# "TPA card MDI-4471902". Numbers with a year group are case numbers ("SAC-2024-551207").
MEMBER_CONTEXT = (
    "afiliad", "member", "policy", "póliza", "poliza", "credencial", "tpa", "subscriber",
    "enrollee", "beneficiari", "tarjeta sanitaria", "health card", "mrn", "uhid",
    "medical record", "historia cl",
)  # fmt: skip
# Not right after the word of a reference, order or case number ("ferry ref BF7799883").
_KEEP_WORDS = (
    "ref", "ref.", "ref:", "reference", "order", "ticket", "invoice", "case", "claim", "folio",
    "pedido", "orden", "factura", "siniestro", "trámite", "tramite", "expediente", "booking",
)  # fmt: skip
_NOT_AFTER_KEEP_WORD = "".join(
    rf"(?<!{re.escape(word)} )(?<!{re.escape(word.capitalize())} )" for word in _KEEP_WORDS
)
_MEMBER_ID = re.compile(
    r"(?i:afiliad[oa]|member(?:ship)?|policy|p[oó]liza|credencial|tpa|subscriber|"
    r"enrollee|beneficiari[oa]|tarjeta sanitaria|health card|mrn|uhid|medical record|"
    r"historia cl[ií]nica)\b[^\n]{0,80}?(?:\n[^\n]{0,40}?)?"
    rf"(?<![\w/-]){_NOT_AFTER_KEEP_WORD}([A-Z]{{1,5}}-?\d{{5,12}}(?:-[0-9A-Z]{{1,2}})?)(?![\w/-])"
)
_YEAR_GROUP = re.compile(r"(?:^|-)(?:19|20)\d\d(?:-|$)")


def _not_case_number(value: str) -> int:
    return 0 if _YEAR_GROUP.search(value) else len(value)


# The last four digits of an identifier, said to prove who one is: "the last four of her SSN,
# 7731", "last 4 digits of Aadhaar: 8264", "los últimos cuatro de su DNI son 5521".
_LAST_DIGITS = re.compile(
    r"(?i)\b(?:last\s+(?:4|four)|[uú]ltimos\s+(?:4|cuatro))(?:\s+(?:digits|d[ií]gitos|"
    r"n[uú]meros))?\s+(?:of|de|del)?\s*(?:(?:his|her|their|your|my|the|su|tu|mi|la|el)\s+)?"
    r"(?:ssn|social(?:\s+security)?|aadhaa?r|sin|nin|national\s+insurance|dni|c[eé]dula|"
    r"rut|run|cuit|cuil|curp|documento|id|passport|pasaporte|nhs)(?:\s+(?:number|no\.?|n[uú]mero))?"
    r"[^\w\n]{0,3}(?:\s*(?:is|was|are|es|son|era|:|=))?[ \t(\"']*(\d{4})(?![\w-])"
)


def national_id_specs() -> list[PatternSpec]:
    """Identifier specs: written forms alone, bare digit runs with their name nearby."""
    return [
        # Chile: 12.345.678-5 / 12345678-K (dash form alone); 123456785 only next to "RUT".
        _spec("cl_rut", r"\d{1,2}\.\d{3}\.\d{3}-[\dkK]|\d{7,8}-[\dkK]", v.cl_rut_valid, 0.9),
        _spec(
            "cl_rut", r"\d{8,9}", v.cl_rut_valid, 0.3, context=RUT_CONTEXT, requires_context=True
        ),
        # Argentina: 20-12345678-6 alone; 20123456786 next to CUIT/CUIL.
        _spec("ar_cuit", r"\d{2}-\d{8}-\d|\d{2}\.\d{3}\.\d{3}\.\d{3}", v.ar_cuit_valid, 0.9),
        _spec(
            "ar_cuit", r"\d{11}", v.ar_cuit_valid, 0.3, context=CUIT_CONTEXT, requires_context=True
        ),
        # Mexico: CURP and RFC are distinctive enough with their check characters.
        _spec(
            "mx_curp",
            r"[A-Za-z]{4}\d{6}[HMXhmx][A-Za-z]{5}[0-9A-Za-z]\d",
            _upper(v.mx_curp_valid),
            0.95,
        ),
        _spec("mx_rfc", r"[A-ZÑ&]{4}\d{6}[A-Z0-9]{2}[0-9A]", v.mx_rfc_valid, 0.85),
        # UK NHS number: 3-3-4 groups alone; ten bare digits next to "NHS".
        _spec("uk_nhs", r"\d{3}[ -]\d{3}[ -]\d{4}", v.uk_nhs_valid, 0.45, context=NHS_CONTEXT),
        _spec("uk_nhs", r"\d{10}", v.uk_nhs_valid, 0.3, context=NHS_CONTEXT, requires_context=True),
        # UK National Insurance number (HMRC prefix rules): QQ 12 34 56 C / QQ123456C.
        _spec(
            "uk_nino",
            r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]|[A-Z]{2}\d{6}[A-D]?",
            v.uk_nino_valid,
            0.8,
        ),
        # India: PAN (AAAPA1234A) and Aadhaar (1234 5678 9012, Verhoeff).
        _spec("in_pan", r"[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z]", v.in_pan_valid, 0.85),
        _spec("in_aadhaar", r"[2-9]\d{3}[ -]\d{4}[ -]\d{4}", v.in_aadhaar_valid, 0.85),
        _spec(
            "in_aadhaar",
            r"[2-9]\d{11}",
            v.in_aadhaar_valid,
            0.3,
            context=AADHAAR_CONTEXT,
            requires_context=True,
        ),  # fmt: skip
        # Brazil CPF, Peru RUC, Colombian NIT with check digit, Spanish social-security number.
        _spec("mx_elector_key", r"[A-Z]{6}\d{8}[HM]\d{3}", v.mx_elector_key_valid, 0.85),
        _spec(
            "uk_driving_licence",
            r"[A-Z9]{5}\d{6}[A-Z9]{2}\d[A-Z]{2}",
            v.uk_driving_licence_valid,
            0.85,
        ),
        _spec("br_cpf", r"\d{3}\.\d{3}\.\d{3}-\d{2}", v.br_cpf_valid, 0.9),
        _spec("br_cpf", r"\d{11}", v.br_cpf_valid, 0.3, context=CPF_CONTEXT, requires_context=True),
        _spec(
            "pe_ruc",
            r"(?:10|15|17|20)\d{9}",
            v.pe_ruc_valid,
            0.3,
            context=RUC_CONTEXT,
            requires_context=True,
        ),  # fmt: skip
        _spec("es_nss", r"\d{2}[ /-]?\d{8}[ /-]?\d{2}", v.es_nss_valid, 0.45, context=NSS_CONTEXT),
        PatternSpec("us_medicare_mbi", MEDICAL_ID, _MBI, 0.85, group=1, digits=True),
        PatternSpec("upi_id", IBAN_CODE, _UPI_ID, 0.85, group=1, needle="@"),
        PatternSpec("abha_address", MEDICAL_ID, _ABHA_ADDRESS, 0.85, group=1, needle="@"),
        PatternSpec("cbu_alias", IBAN_CODE, _CBU_ALIAS, 0.8, group=1, words=("alias",)),
        PatternSpec(
            "member_id_in_context",
            MEDICAL_ID,
            _MEMBER_ID,
            0.9,
            group=1,
            accept=_not_case_number,
            digits=True,
            words=MEMBER_CONTEXT,
        ),
        PatternSpec(
            "id_last_digits",
            NATIONAL_ID,
            _LAST_DIGITS,
            0.85,
            group=1,
            digits=True,
            words=("last", "ltimo"),
        ),
        PatternSpec(
            "id_in_context",
            NATIONAL_ID,
            re.compile(r"(?<![\w.,/-])(\d{1,3}(?:\.\d{3}){2,3}|\d{7,12})(?![\w/-]|[.,]\d)"),
            0.3,
            group=1,
            context=ID_CONTEXT,
            context_score=0.8,
            requires_context=True,
            window=120,
            digits=True,
        ),
        # Bank account keys: Argentine CBU (22 digits) and Mexican CLABE (18 digits).
        _spec(
            "ar_cbu",
            r"\d{22}|\d{8}[ -]\d{14}",
            v.ar_cbu_valid,
            0.8,
            context=BANK_CONTEXT,
            entity_type=IBAN_CODE,
        ),  # fmt: skip
        _spec(
            "mx_clabe",
            r"\d{18}|\d{3}[ -]\d{3}[ -]\d{11}[ -]\d",
            v.mx_clabe_valid,
            0.7,
            context=BANK_CONTEXT,
            entity_type=IBAN_CODE,
        ),  # fmt: skip
    ]


def _upper(validator: object) -> object:
    def check(value: str) -> bool:
        return validator(value.upper())  # type: ignore[operator]

    return check
