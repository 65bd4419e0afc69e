"""What a field label or column header says about the value next to it (English and Spanish).

``label_type("fecha_nac")`` -> ``DATE_OF_BIRTH``; ``label_type("Order #")`` -> ``KEEP``;
``label_type("Notes")`` -> None. Labels are normalised first: accents removed, lower-cased,
``snake_case``/``camelCase``/``kebab-case`` split into words, numbering marks ("No.", "N.º",
"#", "nro") dropped. A label is classified by the phrases it contains, the most specific rule
first: a birth-date word beats a name word ("birth name" is rare, "fecha de nacimiento del
titular" common), an identifier word beats a person word ("patient id" is an id, not a name),
and a non-personal qualifier ("company name", "product code") takes the person reading away.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from datasets_app.pipeline.pii_types import (
    ADDRESS,
    CREDIT_CARD,
    DATE_OF_BIRTH,
    EMAIL_ADDRESS,
    IBAN_CODE,
    IP_ADDRESS,
    MEDICAL_ID,
    NATIONAL_ID,
    PERSON,
    PHONE_NUMBER,
    SECRET,
)

KEEP = "KEEP"  # the value is not personal: an order number, a version, an amount...


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split("|") if p.strip())


# Ordered: the first rule whose phrase occurs in the label decides.
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (ADDRESS, _phrases("pin code|pincode|postal pin")),  # India's postcode, not a secret
    (DATE_OF_BIRTH, _phrases(
        "dob|d o b|date of birth|birth date|birthdate|birthday|born|birth|b day|bday|"
        "fecha de nacimiento|fecha nacimiento|fecha nac|f nac|fnac|fec nac|nacimiento|nacido|"
        "nacida|cumpleanos|f de nac|fecha de nac|naissance|natalicio|naixement|data de naixement"
    )),
    (SECRET, _phrases(
        "password|passwd|pass|pwd|passcode|passphrase|contrasena|contrasenya|clave|pin|"
        "secret|token|api key|apikey|access key|private key|credential|credentials|"
        "otp|cvv|cvc|cvv2|security code|codigo de seguridad|door code|codigo de puerta|"
        "codigo de acceso|access code|alarm code|codigo de alarma|combination|combinacion|"
        "clave de acceso|nip|contrasinal|respuesta de seguridad|respuesta seguridad|"
        "security answer|secret answer|respuesta secreta|puk|backup code|backup codes|"
        "recovery code|recovery codes|codigos de respaldo|codigo de respaldo|sig|"
        "encryption key|secret key|signing key|master key|webhook secret|client secret"
    )),
    # A plan's group number names the employer's plan, not the member ("Group: 1069300").
    (KEEP, _phrases(
        "group number|group no|group id|policy group|group|grupo|account ref|account reference|"
        "customer ref|customer reference|referencia de cliente|ref de cuenta"
    )),
    (MEDICAL_ID, _phrases(
        "mrn|medical record|record number|health record|historia clinica|historia|hc|nhc|"
        "afiliado|afiliada|affiliate|member id|member number|member no|membership|"
        "miembro|socio|numero de socio|policy|poliza|insurance|seguro medico|"
        "patient id|patient number|patient no|id paciente|numero de paciente|paciente id|"
        "codigo de paciente|codigo del paciente|codigo de afiliado|"
        "expediente clinico|expediente medico|tarjeta sanitaria|cip|health card|"
        "obra social|essalud|hmo|enrollee|enrolee|beneficiario|hosp|hospital number|chart|"
        "hospital no|uhid|ip no|ip number|inpatient|abha|ghic|ehic|ficha|ficha clinica|h c|"
        "autogenerado|derechohabiente|agregado|afiliacion|patient account|tsi|catsalut|"
        "cip|sip|medical card|health insurance|insurance number|certificado|"
        "nhi|medicare|medicaid|insurance id|subscriber id|"
        "nhis|nhif|eps|isapre|fonasa|imss|issste|sis|essalud|prepaga|tpa|tpa card|tpa id|"
        "member card|insurance card|credencial|carnet de afiliado|carne de afiliado"
    )),
    (NATIONAL_ID, _phrases(
        "dni|nif|nie|cuit|cuil|curp|rfc|rut|run|cedula|cc|ci|c c|c i|ssn|social security|"
        "nss|seguridad social|nhs|national insurance|nino|ni number|ni no|nin|pan|aadhaar|"
        "aadhar|uid|passport|pasaporte|passeport|licence|license|licencia|driving|"
        "conducir|brevete|pase|tax id|taxpayer|tin|itin|nit|ruc|ine|clave de elector|"
        "elector|documento|document|doc|id number|id no|identification|identificacion|"
        "identidad|national id|id card|dui|cpf|rg|numero de identificacion|id nacional|"
        "sofi|bsn|insee|personnummer|steuer|codice fiscale|permiso de residencia|"
        "residence permit|visa number|green card|a number|alien|nin|bvn|nuss|naf|cuspp|nuip|"
        "dl|d l|reg no|registration no|registration number|matricula|m n|m p|cmp|colegiado|"
        "colegiatura|medical council|licence no|license no|pension|rsa pin|afp|reg|es salud|"
        "cedula prof|ced prof|cedula profesional|gmc|t p|tarjeta profesional|uan|ration card|"
        "l c|libreta civica|libreta de enrolamiento|l e|nysc|passaport|passaporte|dni nie|"
        "identity number|voter|voter id|epic|pf number"
    )),
    (IBAN_CODE, _phrases(
        "iban|account|account number|account no|acct|bank account|cuenta|cuenta bancaria|"
        "numero de cuenta|cbu|cvu|clabe|cci|sort code|routing|swift|bic|bank details|"
        "datos bancarios|ccc"
    )),
    (CREDIT_CARD, _phrases("card number|card no|credit card|debit card|tarjeta|card|pan card no")),
    (PHONE_NUMBER, _phrases(
        "phone|telephone|tel|tlf|telf|mobile|cell|cellphone|movil|celular|whatsapp|fax|"
        "telefono|contact number|numero de contacto|landline|fijo|msisdn"
    )),
    (EMAIL_ADDRESS, _phrases("email|e mail|mail|correo|correo electronico")),
    (IP_ADDRESS, _phrases("ip|ip address|client ip|remote addr|remote ip|source ip|src ip")),
    (ADDRESS, _phrases(
        "address|addr|street|street address|home address|mailing address|postal address|"
        "shipping address|billing address|residence|residencia|direccion|domicilio|calle|"
        "direccion de envio|direccion postal|domicilio particular|address line|"
        "line 1|line 2|adresse|endereco|morada|postcode|post code|postal code|zip|zip code|"
        "codigo postal|cp|c p|colonia|vialidad|numero exterior|numero interior|"
        "municipio|alcaldia|delegacion|barangay|brgy|eircode|pin code|pincode"
    )),
    (KEEP, _phrases(
        "order|pedido|orden|ticket|incidencia|incident|case|caso|invoice|factura|receipt|"
        "recibo|ref|reference|referencia|sku|item|articulo|product|producto|version|build|"
        "release|commit|hash|checksum|sha|sha1|sha256|md5|uuid|guid|request id|trace|"
        "correlation|job|status|estado|error|error code|codigo de error|http|amount|importe|"
        "total|price|precio|cost|coste|costo|monto|tracking|seguimiento|shipment|guia|"
        "waybill|room|sala|gate|flight|vuelo|seat|asiento|quantity|cantidad|qty|currency|"
        "moneda|port|puerto|pid|claim|siniestro|reclamo|batch|lote|serial|serie|model|"
        "modelo|part|pieza|plan|tarifa|rate|tax|iva|vat|subtotal|discount|descuento|"
        "license key|licence key|folio|tramite|solicitud|request|pr|issue|"
        "bug|story|task|tarea|sprint|step|paso|line|linea|row|fila|page|pagina|"
        "code|codigo|course|curso|class|clase|group|grupo|aula|grade|nota|score|"
        "puntuacion|room number|habitacion|table|mesa|desk|building|edificio|floor"
    )),
    (PERSON, _phrases(
        "name|full name|first name|last name|surname|given name|family name|middle name|"
        "maiden name|nickname|alias|firstname|lastname|fullname|nombre|nombres|apellido|"
        "paterno|materno|apellido paterno|apellido materno|forename|forenames|given names|"
        "other names|initials|attending|attending physician|pcp|referring|tratante|"
        "medico tratante|treating doctor|electronically signed|signed|preferred name|"
        "mare|pare|tutors|aval|avalista|fiador|fiadora|garante|guarantor|co signer|"
        "apellidos|nombre completo|primer apellido|segundo apellido|contact|contacto|"
        "patient|paciente|employee|empleado|empleada|trabajador|trabajadora|titular|"
        "cardholder|account holder|holder|asegurado|asegurada|beneficiary|guardian|tutor|"
        "tutora|padre|madre|father|mother|parent|spouse|conyuge|esposo|esposa|"
        "emergency contact|student|alumno|alumna|estudiante|pupil|teacher|profesor|"
        "profesora|docente|doctor|doctora|dr|physician|medico|medica|nurse|enfermero|"
        "enfermera|author|autor|autora|signed by|firmado por|firma|signature|attn|"
        "attention|from|to|cc|de|para|sender|recipient|remitente|destinatario|reported by|"
        "requested by|assigned to|assignee|owner|customer|cliente|client|user|usuario|"
        "usuaria|username|user name|login|agent|agente|operator|operador|operadora|rep|"
        "representative|caller|witness|testigo|tenant|inquilino|inquilina|landlord|"
        "arrendador|propietario|propietaria|applicant|solicitante|candidate|candidato|"
        "candidata|driver|conductor|conductora|passenger|pasajero|pasajera|insured|"
        "policyholder|tomador|referred by|derivado por|approved by|aprobado por|manager|"
        "supervisor|supervisora|jefe|jefa|responsable|representante|apoderado|"
        "legal representative|person|persona|interesado|interesada|declarante|"
        "reclamante|claimant|speaker|hablante|participant|participante|member|miembro|"
        "volunteer|voluntario|resident|residente|vecino|vecina|huesped|guest|child|"
        "hijo|hija|son|daughter|next of kin|familiar|relative|emisor|receptor|"
        "prepared by|elaborado por|revisado por|reviewed by|autorizado por|authorized by|"
        "notified|informante|reporter|contacto de emergencia|nombre y apellidos|"
        "apellido y nombre|razon"
    )),
)  # fmt: skip

# A label that names an identifier of something other than a person.
_NOT_PERSONAL = frozenset(
    """company empresa razon social organization organizacion org product producto file
    archivo fichero host hostname server servidor bank banco city ciudad country pais app
    application aplicacion project proyecto device dispositivo domain dominio database db
    table queue service servicio brand marca pet mascota school colegio escuela hospital
    clinic clinica course curso team equipo store tienda branch sucursal event evento
    vendor proveedor supplier merchant comercio shop repo repository repositorio bucket
    cluster region zone zona network red wifi ssid printer impresora model modelo
    category categoria department departamento area""".split()
)
# ... except for these types, which stay personal whatever qualifies them ("wifi password").
_ALWAYS_TYPED = frozenset({SECRET, DATE_OF_BIRTH, ADDRESS, MEDICAL_ID})
_NUMBERING = re.compile(
    r"\b(?:no|nro|num|numero|number|n|nr|nbr|#|id)\b\.?$|[#º°ª]|\bn\s*o\b", re.IGNORECASE
)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_DIGITS = re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_SPLIT = re.compile(r"[\s_\-./:()\[\]{}\"'`#*]+")


def normalize_label(label: str, *, keep_numbering: bool = False) -> str:
    """Lower-case words without accents or numbering marks: ``"N.º de afiliado"`` ->
    ``"de afiliado"``, ``"fechaNacimiento"`` -> ``"fecha nacimiento"``."""
    text = _DIGITS.sub(" ", _CAMEL.sub(" ", re.sub(r"[ºª°]", " ", label.strip())))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = [w for w in _SPLIT.split(text) if w]
    while (
        not keep_numbering
        and words
        and words[-1] in ("no", "nro", "num", "n", "nr", "nbr", "number", "numero")
    ):
        words.pop()
    while not keep_numbering and words and words[0] in ("n", "no", "nro", "num"):
        words.pop(0)
    return " ".join(words)


_NUMBERED = re.compile(
    r"(?i)(?:\b(?:no|nro|num|n[uú]m|number|n[uú]mero|id|code|c[oó]digo)\b\.?|[#º°]|\bn\.?\s*[º°o])"
    r"[\s.:]*$|^(?:n[º°o]?\.?|nro\.?|n[uú]mero|number|id|c[oó]digo)\s+(?:de\s+|del\s+|of\s+)?"
)
# People whose number is a health-system or insurance number ("Patient No.", "Afiliado N°").
_MEDICAL_PEOPLE = frozenset(
    """patient paciente afiliado afiliada asegurado asegurada member miembro socio socia
    beneficiario beneficiaria insured policyholder subscriber suscriptor titular""".split()
)


def _numbered_person(label: str, words: str) -> str | None:
    """The type of "<person> No." labels: a number of a patient or insured person is a
    MEDICAL_ID; of a customer, employee or student it identifies a record, not a name."""
    if not _NUMBERED.search(label.strip()):
        return PERSON
    return MEDICAL_ID if set(words.split()) & _MEDICAL_PEOPLE else None


@lru_cache(maxsize=4096)
def label_type(label: str) -> str | None:
    """The entity type a label announces, ``KEEP`` for a non-personal field, or None."""
    words = normalize_label(label)
    if not words or len(words) > 48:
        return None
    if words in _NAME_HEADERS:
        return PERSON
    full = normalize_label(label, keep_numbering=True)
    return _classify(label, full) or _classify(label, words)


# Column headers that name a name part only when they are the whole label ("first,last,score";
# "last login" is no name).
_NAME_HEADERS = frozenset(
    {"first", "last", "given", "family", "fname", "lname", "mname", "gname", "sname", "nom",
     "prenom", "nom de famille", "first n", "last n", "ap paterno", "ap materno"}
)  # fmt: skip


def _phrase_regex(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """One regex that finds any of ``phrases`` as whole words of a normalized label (words
    separated by single spaces): one search instead of one substring test per phrase."""
    body = "|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True))
    return re.compile(rf"(?<![^ ])(?:{body})(?![^ ])")


# Each rule's phrases as one compiled search, in the rules' order.
_RULE_REGEXES = tuple((entity_type, _phrase_regex(phrases)) for entity_type, phrases in _RULES)


def _classify(label: str, words: str) -> str | None:
    tokens = set(words.split())
    if len(tokens) == 1 and _SECRET_COMPOUND.search(words):
        return SECRET  # "csrfmiddlewaretoken", "dbpassword", "clientsecret"
    for entity_type, regex in _RULE_REGEXES:
        if regex.search(words):
            if entity_type == PERSON and not tokens & _NOT_PERSONAL:
                return _numbered_person(label, words)
            if entity_type in _ALWAYS_TYPED or not tokens & _NOT_PERSONAL:
                return entity_type
            return KEEP if entity_type != PERSON else None
    return None


_SECRET_COMPOUND = re.compile(r"(?:token|password|passwd|secret|apikey|contrasena)$")
_NAME_FIELD = _phrases(
    "name|nombre|nombres|apellido|apellidos|surname|paterno|materno|forename|forenames|"
    "given names|user|signed|attending|firstname|lastname|fullname|alias|"
    "nickname|titular|holder|cardholder|signed by|firmado por|firma|signature|attn|from|to|"
    "cc|de|para|sender|recipient|remitente|destinatario|prepared by|elaborado por|"
    "revisado por|reviewed by|approved by|aprobado por|requested by|reported by|"
    "assigned to|assignee|referred by|derivado por|autorizado por|authorized by|username|"
    "user name|usuario|usuaria|login|handle"
)


_NAME_FIELD_REGEX = _phrase_regex(_NAME_FIELD)


@lru_cache(maxsize=4096)
def is_name_field(label: str) -> bool:
    """True when the label's value is a name by construction ("Nombre", "Signed by"), not a
    role whose value may be an utterance ("Patient:" in a transcript)."""
    return _NAME_FIELD_REGEX.search(normalize_label(label)) is not None
