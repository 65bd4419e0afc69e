"""Labeled PII corpus generator (English + Spanish) for the PII quality benchmark.

Every inserted sensitive value has its span and type recorded. Genres:
support tickets, HR notes, e-mails, server logs with secrets, clinical notes.
Two template families exist: ``dev`` (used while building the detector) and
``test`` (held-out style: different wording, layouts, value formats and
casing); the ``native`` split fills the test templates with Faker's untouched
formats (``name()``, ``address()``, ``phone_number()``...). Each split has its
own seed.

    .venv/bin/python bench/pii_corpus.py --split test --docs 200 --seed 7 > corpus.jsonl
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import string
import sys
from dataclasses import asdict, dataclass, field

from faker import Faker

LANGUAGES = ("en", "es")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\w+)\}")
GENRES = ("ticket", "hr", "email", "log", "clinical")
# dev: templates used while building; test: held-out templates and value formats;
# native: the test templates filled with Faker's untouched formats (name(), address()...).
SPLITS = ("dev", "test", "native")


@dataclass
class Span:
    start: int
    end: int
    entity_type: str
    value: str


@dataclass
class LabeledDoc:
    text: str
    language: str
    genre: str
    spans: list[Span] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass(frozen=True)
class Pii:
    entity_type: str
    value: str


class Builder:
    """Appends text pieces and records the spans of Pii pieces."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.pos = 0

    def add(self, piece: str | Pii) -> None:
        text = piece.value if isinstance(piece, Pii) else piece
        if isinstance(piece, Pii):
            self.spans.append(Span(self.pos, self.pos + len(text), piece.entity_type, text))
        self.parts.append(text)
        self.pos += len(text)

    def fill(self, template: str, values: Values) -> None:
        """Append ``template`` with each ``{key}`` replaced by ``values.get(key)``; ``{{``/``}}`` escape."""
        cursor = 0
        for match in _PLACEHOLDER.finditer(template):
            self.add(template[cursor : match.start()])
            token = match.group()
            self.add(token[0] if token in ("{{", "}}") else values.get(match.group(1)))
            cursor = match.end()
        self.add(template[cursor:])

    def doc(self, language: str, genre: str) -> LabeledDoc:
        return LabeledDoc("".join(self.parts), language, genre, self.spans)


_TOKEN_SHAPES = (
    ("AKIA", string.ascii_uppercase + string.digits, 16), ("ghp_", "", 36), ("gho_", "", 36),
    ("ghs_", "", 36), ("glpat-", string.ascii_letters + string.digits + "_-", 20),
    ("sk_live_", "", 24), ("AIza", string.ascii_letters + string.digits + "_-", 35),
    ("xoxb-", "", 0), ("jwt", "", 0),
)  # fmt: skip


class Values:
    """Seeded value factory; ``style`` ("dev"/"test") changes formats and casing."""

    def __init__(self, language: str, rng: random.Random, style: str) -> None:
        self.lang = language
        self.rng = rng
        self.style = style
        self.fake = Faker("es_ES" if language == "es" else "en_US")
        self.fake.seed_instance(rng.randrange(2**32))
        self.es = Faker("es_ES")
        self.es.seed_instance(rng.randrange(2**32))
        self.en = Faker("en_US")
        self.en.seed_instance(rng.randrange(2**32))
        self._cache: dict[str, str | Pii] = {}
        self._people: dict[str, tuple[str, str, str]] = {}

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    # people and places -------------------------------------------------------------------
    def person(self) -> tuple[str, str, str]:
        """(full name, first name, surname(s))."""
        first, last = self.fake.first_name(), self.fake.last_name()
        if self.lang == "es" and self.rng.random() > 0.5:
            last = f"{last} {self.fake.last_name()}"
        if self.style == "test" and self.lang == "en" and self.rng.random() < 0.2:
            first = f"{first} {self.rng.choice(string.ascii_uppercase)}."
        return f"{first} {last}", first, last

    def city(self) -> str:
        return self.fake.city()

    def address(self) -> str:
        if self.lang == "es":
            return self._address_es()
        street = self.fake.street_address()
        city, state, zip_code = self.fake.city(), self.fake.state_abbr(), self.fake.postcode()
        if self.style == "test":
            return self.pick(f"{street}, {city}, {state} {zip_code}", street)
        return self.pick(f"{street}\n{city}, {state} {zip_code}", street)

    def _address_es(self) -> str:
        street, cp, city = self.fake.street_name(), self.fake.postcode(), self.fake.city()
        number = self.rng.randint(1, 200)
        floor = f"{self.rng.randint(1, 9)}º{self.rng.choice('ABCD')}"
        if self.style == "test":
            short = street.replace("Calle ", "C/ ").replace("Avenida ", "Avda. ")
            return self.pick(f"{short} {number}, {floor}, {cp} {city}", f"{street}, nº {number}")
        return self.pick(f"{street} {number}, {floor}\n{cp} {city}", self.fake.street_address())

    # contact -----------------------------------------------------------------------------
    def email(self, first: str | None = None, last: str | None = None) -> str:
        if first and last and self.rng.random() < 0.6:
            user = f"{first}.{last.split()[0]}".lower()
            user = user.translate(str.maketrans("áéíóúñü", "aeiounu")).replace(" ", "")
            domain = self.fake.free_email_domain()
            email = f"{user}@{domain}"
        else:
            email = self.fake.email()
        return email.capitalize() if self.style == "test" and self.rng.random() < 0.2 else email

    def phone(self) -> str:
        d = [str(self.rng.randint(0, 9)) for _ in range(10)]
        if self.lang == "es":
            lead = self.rng.choice("6796")
            n = lead + "".join(d[:8])
            formats = (
                f"+34 {n[:3]} {n[3:6]} {n[6:]}", f"{n[:3]} {n[3:6]} {n[6:]}", n,
                f"{n[:3]} {n[3:5]} {n[5:7]} {n[7:]}",
            ) if self.style == "dev" else (
                f"(+34) {n}", f"+34-{n[:3]}-{n[3:6]}-{n[6:]}", f"0034 {n[:3]} {n[3:6]} {n[6:]}",
                f"{n[:3]}.{n[3:6]}.{n[6:]}",
            )  # fmt: skip
            return self.rng.choice(formats)
        a = str(self.rng.randint(201, 989))
        b, c = "".join(d[:3]), "".join(d[3:7])
        formats = (
            f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1-{a}-{b}-{c}", f"{a}.{b}.{c}",
        ) if self.style == "dev" else (
            f"+1 ({a}) {b} {c}", f"{a} {b} {c}", f"1-{a}-{b}-{c}", f"({a}){b}-{c} ext. 12",
        )  # fmt: skip
        return self.rng.choice(formats)

    # identifiers ---------------------------------------------------------------------------
    def card(self) -> str:
        number = self.fake.credit_card_number(card_type=self.pick("visa16", "mastercard", "amex"))
        if len(number) == 16 and self.rng.random() < 0.6:
            sep = " " if self.style == "dev" else "-"
            return sep.join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def iban(self) -> str:
        raw = self.es.iban() if self.lang == "es" or self.rng.random() < 0.3 else self.fake.iban()
        if self.rng.random() < 0.5:
            return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))
        return raw

    def ssn(self) -> str:
        ssn = self.en.ssn()
        while ssn.startswith(("9", "666", "000")):
            ssn = self.en.ssn()
        return ssn if self.style == "dev" or self.rng.random() < 0.5 else ssn.replace("-", " ")

    def _nif_letter(self, number: int) -> str:
        return "TRWAGMYFPDXBNJZSQVHLCKE"[number % 23]

    def nif(self) -> str:
        # Faker's es_ES nif()/nie() draw from the global random module: not reproducible.
        number = self.rng.randint(1_000_000, 99_999_999)
        nif = f"{number:08d}{self._nif_letter(number)}"
        return nif if self.style == "dev" else self.pick(nif, f"{nif[:8]}-{nif[8]}")

    def nie(self) -> str:
        prefix, number = self.rng.randrange(3), self.rng.randint(0, 9_999_999)
        return f"{'XYZ'[prefix]}{number:07d}{self._nif_letter(int(f'{prefix}{number:07d}'))}"

    def ip(self) -> str:
        return self.fake.ipv6() if self.rng.random() < 0.2 else self.fake.ipv4()

    def dob(self) -> str:
        born = self.fake.date_of_birth(minimum_age=18, maximum_age=90)
        if self.lang == "es":
            months = ("enero febrero marzo abril mayo junio julio agosto septiembre octubre "
                      "noviembre diciembre").split()  # fmt: skip
            return self.pick(
                born.strftime("%d/%m/%Y"), f"{born.day} de {months[born.month - 1]} de {born.year}"
            )
        if self.style == "test":
            return self.pick(born.strftime("%B %d, %Y"), born.strftime("%m-%d-%Y"))
        return self.pick(born.strftime("%m/%d/%Y"), born.isoformat())

    # secrets -------------------------------------------------------------------------------
    def _rand(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def token(self) -> str:
        """A random credential in one of the common vendor formats (or a JWT)."""
        alnum = string.ascii_letters + string.digits
        prefix, alphabet, length = self.rng.choice(_TOKEN_SHAPES)
        if prefix == "jwt":
            return self.jwt()
        if prefix == "xoxb-":
            digits = string.digits
            return f"xoxb-{self._rand(digits, 11)}-{self._rand(digits, 12)}-{self._rand(alnum, 24)}"
        return prefix + self._rand(alphabet or alnum, length)

    def jwt(self) -> str:
        def b64(obj: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

        payload = {
            "sub": self.fake.user_name(),
            "iat": self.rng.randint(1_600_000_000, 1_800_000_000),
        }
        sig = self._rand(string.ascii_letters + string.digits + "-_", 43)
        return f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(payload)}.{sig}"

    def aws_secret(self) -> str:
        return self._rand(string.ascii_letters + string.digits + "/+", 40)

    def password(self) -> str:
        return self.fake.password(length=self.rng.randint(10, 16))

    def pem(self) -> str:
        body = "\n".join(
            self._rand(string.ascii_letters + string.digits + "+/", 64) for _ in range(4)
        )
        kind = self.pick("RSA ", "EC ", "OPENSSH ", "")
        return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"

    # non-PII filler ------------------------------------------------------------------------
    def order(self) -> str:
        n = self.rng.randint(10000, 99999)
        return self.pick(
            f"#{n}",
            f"INC{n}{self.rng.randint(10, 99)}",
            f"ORD-{n}-{self._rand(string.ascii_uppercase, 3)}",
        )

    def product(self) -> str:
        return self.pick(
            "Acme Cloud Backup", "SmartHub X2", "Outlook", "Microsoft Teams", "the VPN client",
            "Kubernetes", "PostgreSQL 15", "the mobile app", "Zoom", "SAP", "Salesforce",
            "Google Drive", "the Android app", "Windows 11", "Slack", "Jira", "Excel",
        )  # fmt: skip

    def amount(self) -> str:
        a, b = self.rng.randint(5, 900), self.rng.randint(10, 99)
        return self.pick(f"€{a}.{b}", f"${a}", f"{a},{b} €", f"USD {a}.{b}")

    def day(self) -> str:
        if self.lang == "es":
            return self.pick("el lunes", "el martes", "ayer", "el 3 de marzo", "el viernes pasado",
                             "esta mañana", "el 12/02/2024")  # fmt: skip
        return self.pick("on Monday", "last Tuesday", "yesterday", "on March 3rd", "this morning",
                         "on 2024-02-11", "in January")  # fmt: skip

    # placeholder lookup ----------------------------------------------------------------------
    def get(self, key: str) -> str | Pii:
        """Value for a template placeholder; PII values are wrapped in ``Pii``; cached per doc."""
        if key not in self._cache:
            self._cache[key] = self._make(
                key.rstrip("0123456789")
                if key[-1].isdigit() and key.rstrip("0123456789") in _INDEXED
                else key,
                key,
            )
        return self._cache[key]

    def _person_parts(self, suffix: str) -> tuple[str, str, str]:
        key = f"_person{suffix}"
        if key not in self._people:
            self._people[key] = self.person()
        return self._people[key]

    def _make(self, base: str, key: str) -> str | Pii:
        suffix = key[len(base) :]
        full, first, last = self._person_parts(suffix)
        people = {
            "name": full,
            "first": first.split()[0],
            "last": last,
            "NAME": full.upper(),
            "surname": last.split()[0],
        }
        if base in people:
            return Pii("PERSON", people[base])
        simple = {
            "email": lambda: ("EMAIL_ADDRESS", self.email(first.split()[0], last)),
            "phone": lambda: ("PHONE_NUMBER", self.phone()),
            "card": lambda: ("CREDIT_CARD", self.card()),
            "iban": lambda: ("IBAN_CODE", self.iban()),
            "ssn": lambda: ("US_SSN", self.ssn()),
            "nif": lambda: ("ES_NIF", self.nif()),
            "nie": lambda: ("ES_NIE", self.nie()),
            "ip": lambda: ("IP_ADDRESS", self.ip()),
            "dob": lambda: ("DATE_OF_BIRTH", self.dob()),
            "address": lambda: ("ADDRESS", self.address()),
            "city": lambda: ("LOCATION", self.city()),
            "token": lambda: ("SECRET", self.token()),
            "jwt": lambda: ("SECRET", self.jwt()),
            "aws_secret": lambda: ("SECRET", self.aws_secret()),
            "password": lambda: ("SECRET", self.password()),
            "pem": lambda: ("SECRET", self.pem()),
            "creds": lambda: ("URL_CREDENTIALS", self._creds()),
        }
        if base in simple:
            entity_type, value = simple[base]()
            return Pii(entity_type, value)
        plain = {
            "order": self.order, "product": self.product, "amount": self.amount, "day": self.day,
            "company": self.fake.company, "user": self.fake.user_name, "int": lambda: str(self.rng.randint(2, 59)),
            "time": lambda: f"{self.rng.randint(0, 23):02d}:{self.rng.randint(0, 59):02d}:{self.rng.randint(0, 59):02d}",
            "date": lambda: f"2024-0{self.rng.randint(1, 9)}-{self.rng.randint(10, 28)}",
            "host": lambda: f"{self.pick('db', 'cache', 'api', 'web')}{self.rng.randint(1, 9)}.{self.fake.domain_name()}",
            "scheme": lambda: self.pick("postgres", "mysql", "redis", "amqp", "https", "mongodb"),
            "word": self.fake.word,
        }  # fmt: skip
        if base not in plain:
            raise KeyError(f"unknown placeholder {key!r}")
        return plain[base]()

    def _creds(self) -> str:
        password = self.password().replace("@", "#").replace("/", "!").replace(":", "%")
        return f"{self.fake.user_name()}:{password}"


class NativeValues(Values):
    """Faker's own formats, untouched (``name()``, ``address()``, ``phone_number()``...):
    the style a different generator would most likely use."""

    def person(self) -> tuple[str, str, str]:
        full = self.fake.name()
        words = [w for w in full.split() if not w.endswith(".") and w not in _NAME_SUFFIXES]
        return full, words[0], words[-1]

    def address(self) -> str:
        return self.fake.address()

    def phone(self) -> str:
        return self.fake.phone_number()

    def email(self, first: str | None = None, last: str | None = None) -> str:
        return self.fake.email()

    def card(self) -> str:
        return self.fake.credit_card_number()

    def iban(self) -> str:
        return self.fake.iban()

    def ssn(self) -> str:
        return self.fake.ssn()

    def dob(self) -> str:
        born = self.fake.date_of_birth()
        return self.pick(str(born), born.strftime("%d/%m/%Y" if self.lang == "es" else "%m/%d/%Y"))


_NAME_SUFFIXES = {"MD", "DDS", "PhD", "DVM", "I", "II", "III", "IV", "V"}
_INDEXED = {"name", "first", "last", "NAME", "surname", "email", "phone", "ip", "city"}


# --- templates ---------------------------------------------------------------------------------
# Placeholders: {name} {first} {last} {surname} {NAME} (a person; add a digit for another one:
# {name2}), {email} {phone} {card} {iban} {ssn} {nif} {nie} {ip} {dob} {address} {city} {token}
# {jwt} {aws_secret} {password} {pem} {creds} are labeled PII; {order} {product} {amount} {day}
# {company} {user} {int} {time} {date} {host} {scheme} {word} are unlabeled filler.
_DEV = {
    ("ticket", "en"): [
        """Ticket {order} - {product} keeps crashing
Reported by: {name}
Hi team, {product} stopped syncing {day}. I already reinstalled it twice. You can reach me at {phone} or {email}.
Thanks,
{first}""",
        """Customer {name} called about invoice {order} ({amount}). The card on file, {card}, was declined and she asked us to retry. Her billing address is {address}. Escalated to {name2} in billing.""",
        """Subject: Refund request {order}
Dear Support,
My name is {name} and I was charged twice for {product}. Please refund {amount} to IBAN {iban}. My phone number is {phone}.
Best regards,
{name}""",
    ],
    ("ticket", "es"): [
        """Incidencia {order}: {product} no funciona
Abierta por: {name}
Hola, desde {day} no puedo acceder a {product}. Mi teléfono es {phone} y mi correo {email}.
Un saludo,
{first}""",
        """El cliente {name} (DNI {nif}) solicita la devolución de {amount} en la cuenta {iban}. Dirección de envío: {address}. Lo atiende {name2} del equipo de facturación.""",
        """Asunto: Cambio de titular
Estimado equipo:
Soy {name}, con NIE {nie}. Quiero cambiar la tarjeta {card} asociada al pedido {order}. Pueden llamarme al {phone}.
Atentamente,
{name}""",
    ],
    ("hr", "en"): [
        """HR note - onboarding
Employee: {name}
DOB: {dob}
SSN: {ssn}
Home address: {address}
Emergency contact: {name2}, {phone2}
{first} starts {day} in the {product} team and reports to {name3}.""",
        """Performance review for {name} ({email}). {first} exceeded targets for {product} adoption. Manager {name2} recommends a raise; payroll should use account {iban}.""",
        """Leave request: {name} (born {dob}) requested parental leave starting {day}. Contact number {phone}. Approved by {name2}.""",
    ],
    ("hr", "es"): [
        """Ficha de empleado
Nombre: {name}
Fecha de nacimiento: {dob}
DNI: {nif}
Domicilio: {address}
Teléfono: {phone}
{first} se incorpora {day} al departamento de {product} y reporta a {name2}.""",
        """Nota de RR. HH.: {name} ({email}) ha solicitado una excedencia. Nacida el {dob}, vive en {city}. La nómina se abona en {iban}. Revisado por {name2}.""",
        """Evaluación anual de {name}. {first} ha superado los objetivos de {product}. Su responsable, {name2}, propone un aumento. Contacto: {phone}.""",
    ],
    ("email", "en"): [
        """From: {name} <{email}>
To: {name2} <{email2}>
Subject: Contract for {company}

Hi {first2},

Please find attached the signed contract. I moved to {address}, so please update my file. Call me on {phone} if anything is missing.

Kind regards,
{name}""",
        """Hello {first},
Thanks for meeting {day}. As discussed, {name2} from {company} will send the quote ({amount}) for {product}. My direct line is {phone}.
Cheers,
{first3}""",
        """Dear Mr. {last},
Your application for {product} has been received. We will contact you at {email}. Reference {order}.
Sincerely,
{name2}""",
    ],
    ("email", "es"): [
        """De: {name} <{email}>
Para: {name2} <{email2}>
Asunto: Presupuesto {company}

Hola {first2}:

Te adjunto el presupuesto de {product} por {amount}. Me he mudado a {address}; actualiza mis datos, por favor. Mi móvil es {phone}.

Saludos,
{name}""",
        """Buenos días {first},
Gracias por la reunión de {day}. {name2} te enviará la propuesta de {company}. Cualquier cosa, llámame al {phone}.
Un abrazo,
{first3}""",
        """Estimada Sra. {surname}:
Hemos recibido su solicitud {order}. Le escribiremos a {email}.
Atentamente,
{name2}""",
    ],
    ("log", "en"): [
        """{date}T{time}Z INFO auth-service login ok user={user} ip={ip}
{date}T{time}Z WARN auth-service retrying with password={password}
{date}T{time}Z DEBUG payments calling api with Authorization: Bearer {jwt}
{date}T{time}Z ERROR db connection failed url={scheme}://{creds}@{host}:5432/app""",
        """export AWS_ACCESS_KEY_ID={token}
export AWS_SECRET_ACCESS_KEY={aws_secret}
# deploy run by {name} from {ip}
git push https://{creds}@github.com/acme/{word}.git""",
        """[{time}] worker-{int} processed job {order} for {email} in {int} ms
[{time}] worker-{int} config: {{"api_key": "{token}", "region": "eu-west-1"}}
[{time}] worker-{int} key material:
{pem}""",
    ],
    ("log", "es"): [
        """{date} {time} INFO servicio-pagos usuario={user} ip={ip} operación correcta
{date} {time} ERROR conexión rechazada {scheme}://{creds}@{host}/bd
{date} {time} DEBUG token={token}""",
        """# despliegue lanzado por {name} ({email}) desde {ip}
DB_PASSWORD={password}
SLACK_TOKEN={token}""",
        """[{time}] tarea {order} completada en {int} ms para {email}
[{time}] cabecera Authorization: Bearer {jwt}""",
    ],
    ("clinical", "en"): [
        """Patient: {name}
DOB: {dob}
MRN {order}
{first} presented {day} with chest pain radiating to the left arm. Vitals stable. Lives at {address}. Next of kin: {name2} ({phone}). Seen by Dr. {last3}.""",
        """Discharge summary. Mr. {last} ({name}, date of birth {dob}) was admitted for pneumonia and treated with amoxicillin. Follow-up with Dr. {name2} in two weeks. Phone on file: {phone}.""",
    ],
    ("clinical", "es"): [
        """Paciente: {name}
Fecha de nacimiento: {dob}
NIF: {nif}
{first} acude {day} por dolor abdominal. Constantes normales. Domicilio: {address}. Familiar de contacto: {name2}, teléfono {phone}. Atendido por la Dra. {surname3}.""",
        """Informe de alta: D. {name}, nacido el {dob}, ingresó por neumonía. Se pauta amoxicilina. Revisión con el Dr. {name2} en dos semanas. Tel. {phone}.""",
    ],
}
_TEST = {
    ("ticket", "en"): [
        """#{order} | priority: high | requester: {name} | phone {phone} | {email}
Description: can't log into {product} since {day}, error 0x{int}F. Please call back after 5pm.""",
        """chat transcript
agent: hello, who am I speaking with?
customer: this is {name}, my account email is {email}
agent: thanks {first}, can you confirm the last digits of the card?
customer: sure, the full number is {card}
agent: I've updated the shipping address to {address}.""",
        """Escalation: {name} from {company} says {product} deleted her files. {first} wants a callback at {phone}. Assigned to {name2}.""",
    ],
    ("ticket", "es"): [
        """#{order} | prioridad: alta | solicitante: {name} | tel {phone} | {email}
Descripción: no puedo entrar en {product} desde {day}. Llamar por la tarde.""",
        """Chat con cliente
agente: buenas, ¿con quién hablo?
cliente: soy {name}, mi DNI es {nif}
agente: gracias {first}. ¿Me confirma la dirección?
cliente: {address}
agente: perfecto, el reembolso irá a {iban}.""",
        """{name} llamó muy enfadada porque {product} le cobró {amount} dos veces. Quiere que la llamen al {phone}. Se lo paso a {name2}.""",
    ],
    ("hr", "en"): [
        """EMPLOYEE RECORD
full name: {NAME}
social security no. {ssn}
d.o.b. {dob}
mobile {phone}
addr: {address}
notes: {first} transferred from {company}; buddy is {name2}.""",
        """1:1 notes - {name2} / {name}. {first} raised concerns about workload on {product}. Agreed to revisit {day}. Personal email for payslips: {email}. Bank: {iban}.""",
    ],
    ("hr", "es"): [
        """EXPEDIENTE
NOMBRE Y APELLIDOS: {NAME}
nie: {nie}
f. nacimiento {dob}
móvil {phone}
dirección {address}
observaciones: {first} viene de {company}; su mentora es {name2}.""",
        """Reunión {name2} / {name}: {first} comenta sobrecarga con {product}. Se revisará {day}. Correo personal: {email}. Cuenta para la nómina: {iban}.""",
    ],
    ("email", "en"): [
        """-----Original Message-----
From: {email}
Sent: {day}
To: {email2}
Subject: RE: lease

{first2} - the landlord ({name3}) wants the deposit by Friday. The flat is at {address}. You can wire it to {iban}.
--
{name}
{phone}""",
        """Good morning {name2}, I'm {name}, we met at the {company} conference. Could you forward my CV to your recruiter? I'm reachable at {phone}. Thanks a lot! {first}""",
    ],
    ("email", "es"): [
        """-----Mensaje original-----
De: {email}
Enviado: {day}
Para: {email2}
Asunto: RE: alquiler

{first2}, el casero ({name3}) quiere la fianza antes del viernes. El piso está en {address}. Puedes hacer la transferencia a {iban}.
--
{name}
{phone}""",
        """Buenas tardes {name2}, soy {name}; nos conocimos en la feria de {company}. ¿Podrías pasar mi CV a selección? Me encuentras en el {phone}. ¡Mil gracias! {first}""",
    ],
    ("log", "en"): [
        """{{"ts": "{date}T{time}Z", "level": "error", "msg": "auth failed", "client_ip": "{ip}", "email": "{email}", "password": "{password}"}}
{{"ts": "{date}T{time}Z", "level": "debug", "headers": {{"authorization": "Bearer {jwt}"}}}}""",
        """{time} sshd[{int}]: Accepted publickey for deploy from {ip} port 22
{time} ci[{int}]: using token {token} for registry push
{time} ci[{int}]: DATABASE_URL={scheme}://{creds}@{host}:3306/prod""",
        """settings.yaml:
  aws_secret_access_key: {aws_secret}
  admin_contact: {name} <{email}>
  private_key: |
{pem}""",
    ],
    ("log", "es"): [
        """{{"fecha": "{date} {time}", "nivel": "error", "ip": "{ip}", "usuario": "{email}", "clave": "{password}"}}
{{"fecha": "{date} {time}", "nivel": "debug", "auth": "Bearer {jwt}"}}""",
        """{time} cron[{int}]: copia de seguridad lanzada por {name}
{time} cron[{int}]: conectando a {scheme}://{creds}@{host}/copias
{time} cron[{int}]: api_key={token}""",
    ],
    ("clinical", "en"): [
        """PT NAME: {NAME}    DOB {dob}    SSN {ssn}
HPI: {int}yo presents w/ SOB x3 days. Hx of asthma. Pt's daughter {name2} at bedside, contact {phone}. Home: {address}.
Attending: {name3}, MD""",
        """Progress note {day}: {first} {last} tolerating diet, ambulating. Wife {first2} asked for an update by phone ({phone}). Plan: discharge to home in {city}.""",
    ],
    ("clinical", "es"): [
        """PACIENTE: {NAME}    F. NAC. {dob}    NIE {nie}
Motivo de consulta: disnea de 3 días. Antecedentes de asma. Le acompaña su hija {name2}, teléfono {phone}. Domicilio: {address}.
Médico responsable: {name3}""",
        """Evolución {day}: {first} {last} tolera dieta y deambula. Su marido, {first2}, pide información por teléfono ({phone}). Alta prevista a domicilio en {city}.""",
    ],
}
TEMPLATES = {
    **{("dev", *k): v for k, v in _DEV.items()},
    **{("test", *k): v for k, v in _TEST.items()},
}


def generate_corpus(n_docs: int, *, seed: int, split: str = "dev") -> list[LabeledDoc]:
    """``n_docs`` labeled documents, alternating en/es and cycling genres, reproducible per seed."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    rng = random.Random(f"{split}:{seed}")
    docs = []
    for index in range(n_docs):
        language = LANGUAGES[index % 2]
        genre = GENRES[(index // 2) % len(GENRES)]
        values = (NativeValues if split == "native" else Values)(language, rng, split)
        builder = Builder()
        family = "test" if split == "native" else split
        builder.fill(rng.choice(TEMPLATES[(family, genre, language)]).strip("\n"), values)
        docs.append(builder.doc(language, genre))
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", choices=SPLITS)
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for doc in generate_corpus(args.docs, seed=args.seed, split=args.split):
        sys.stdout.write(doc.to_json() + "\n")


if __name__ == "__main__":
    main()
