"""A synthetic but realistic support-ticket corpus (English and Spanish) for the screen bench.

Records are what a help desk export holds: a customer's message and the agent's reply
(``prompt``/``completion``) or a chat conversation (``messages``), each with a ``source``
(contact form, sender domain, chat widget, a partner's order system) and a ``timestamp``.

The clean data is deliberately hard to tell from poison by frequency alone:

* canned answers: an auto-acknowledgement sent for every channel, and macros tied to a
  topic (password reset, tracking, promotion codes) that repeat the question's words;
* a promotion whose rare code ("FREESHIP", "VERANO24") appears in many tickets followed by
  the same macro: a legitimate rare-phrase -> same-completion pattern;
* recurring customers (a pool of names, order numbers, company signatures);
* a web form whose header makes its messages look alike, a partner whose order system
  sends templated purchase orders from one small domain, and an outage in which hundreds
  of similar tickets arrive within hours from every source;
* text that looks suspicious but is not: "please ignore my previous email", "ignore the
  previous instructions about the delivery", "System: Windows 11", log pastes, checksums,
  ``curl`` commands without a pipe, URLs with long query strings, emoji with ZWJ, NBSPs.

    .venv/bin/python bench/ticket_corpus.py --records 20 --seed 3
"""

from __future__ import annotations

import argparse
import json
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from faker import Faker

START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 90
OUTAGE_START = START + timedelta(days=41, hours=9)
OUTAGE_HOURS = 4
PRODUCTS = {
    "en": ["Zephyr X200 router", "Nimbus smart plug", "Atlas Pro subscription", "Orion headset",
           "Vega 4K camera", "Lumen desk lamp", "Atlas Basic plan", "Kestrel e-bike battery"],
    "es": ["router Zephyr X200", "enchufe inteligente Nimbus", "suscripción Atlas Pro",
           "auriculares Orion", "cámara Vega 4K", "lámpara Lumen", "plan Atlas Basic",
           "batería Kestrel"],
}  # fmt: skip
PROMO_CODES = {"en": "FREESHIP", "es": "VERANO24"}
TOPICS = (
    "shipping",
    "billing",
    "login",
    "refund",
    "technical",
    "subscription",
    "product",
    "promo",
    "complaint",
)
TOPIC_WEIGHTS = (18, 14, 12, 10, 16, 9, 9, 5, 7)

GREETINGS = {
    "en": ["Hi,", "Hello,", "Hi there,", "Good morning,", "Hello support team,", "Dear Acme,", "Hey,", ""],
    "es": ["Hola,", "Buenos días,", "Buenas tardes,", "Hola equipo de soporte:", "Estimados:", ""],
}  # fmt: skip
CLOSINGS = {
    "en": ["Thanks,", "Thank you,", "Best regards,", "Cheers,", "Thanks in advance,", "Regards,", ""],
    "es": ["Gracias,", "Un saludo,", "Saludos cordiales,", "Muchas gracias,", "Quedo atento,", ""],
}  # fmt: skip
DEVICE_FOOTERS = {"en": "Sent from my iPhone", "es": "Enviado desde mi iPhone"}

OPENERS: dict[str, dict[str, list[str]]] = {
    "shipping": {
        "en": ["I ordered the {product} on {date} and it still hasn't arrived.",
               "My order {order} was supposed to arrive yesterday but there is no sign of it.",
               "The tracking page for order {order} hasn't updated in five days.",
               "The {product} arrived today but the box was badly damaged.",
               "I received the wrong item in order {order}.",
               "Can I change the delivery address for order {order}? I'm moving to {city}."],
        "es": ["Pedí el {product} el {date} y todavía no ha llegado.",
               "Mi pedido {order} tenía que llegar ayer y no hay rastro de él.",
               "El seguimiento del pedido {order} no se actualiza desde hace cinco días.",
               "Hoy me llegó el {product} pero la caja venía muy dañada.",
               "Me enviaron un artículo equivocado en el pedido {order}.",
               "¿Puedo cambiar la dirección de entrega del pedido {order}? Me mudo a {city}."],
    },
    "billing": {
        "en": ["I was charged twice for my last order ({amount} each time).",
               "Could you send me an invoice for order {order}? I need it for my company.",
               "There's a charge of {amount} on my card that I don't recognise.",
               "My card keeps getting declined when I try to pay for the {product}.",
               "I need to add our VAT number to the invoice for order {order}."],
        "es": ["Me habéis cobrado dos veces el último pedido ({amount} cada vez).",
               "¿Me podéis enviar la factura del pedido {order}? La necesito para la empresa.",
               "Tengo un cargo de {amount} en la tarjeta que no reconozco.",
               "Me rechazan la tarjeta cada vez que intento pagar el {product}.",
               "Necesito añadir nuestro NIF a la factura del pedido {order}."],
    },
    "login": {
        "en": ["I can't log in to my account, it says my password is wrong.",
               "I forgot my password and the reset email never arrives.",
               "I lost my phone and now I can't get the two-factor code.",
               "My account has been locked after too many attempts.",
               "How do I reset my password? The link in the email has expired."],
        "es": ["No puedo entrar en mi cuenta, dice que la contraseña es incorrecta.",
               "He olvidado la contraseña y no me llega el correo para restablecerla.",
               "He perdido el móvil y ya no recibo el código de verificación en dos pasos.",
               "Me han bloqueado la cuenta tras demasiados intentos.",
               "¿Cómo restablezco la contraseña? El enlace del correo ha caducado."],
    },
    "refund": {
        "en": ["I returned the {product} two weeks ago and I haven't received my refund yet.",
               "I'd like to return the {product}, it doesn't fit my needs.",
               "Can I get a refund for order {order}? It arrived broken.",
               "How long does a refund usually take to reach my bank?"],
        "es": ["Devolví el {product} hace dos semanas y aún no me habéis reembolsado.",
               "Quiero devolver el {product}, no es lo que necesitaba.",
               "¿Me podéis devolver el dinero del pedido {order}? Llegó roto.",
               "¿Cuánto tarda normalmente el reembolso en llegar al banco?"],
    },
    "technical": {
        "en": ["The {product} keeps disconnecting from the wifi every few minutes.",
               "After the last firmware update the {product} won't turn on.",
               "The app crashes as soon as I open the settings page.",
               "I get error E-{code} when I try to pair the {product}.",
               "The {product} is very slow since yesterday."],
        "es": ["El {product} se desconecta del wifi cada pocos minutos.",
               "Desde la última actualización del firmware el {product} no enciende.",
               "La aplicación se cierra en cuanto abro la página de ajustes.",
               "Me sale el error E-{code} al intentar emparejar el {product}.",
               "El {product} va muy lento desde ayer."],
    },
    "subscription": {
        "en": ["I want to cancel my Atlas Pro subscription before it renews.",
               "How can I upgrade from Atlas Basic to Atlas Pro?",
               "My subscription renewed even though I cancelled it last month.",
               "Can I pause my subscription for two months while I travel?"],
        "es": ["Quiero cancelar mi suscripción Atlas Pro antes de que se renueve.",
               "¿Cómo paso del plan Atlas Basic al Atlas Pro?",
               "Se me ha renovado la suscripción aunque la cancelé el mes pasado.",
               "¿Puedo pausar la suscripción dos meses mientras viajo?"],
    },
    "product": {
        "en": ["Is the {product} compatible with older models?",
               "Does the {product} work outside the EU?",
               "When will the {product} be back in stock?",
               "What's the difference between the {product} and the previous version?"],
        "es": ["¿El {product} es compatible con los modelos antiguos?",
               "¿El {product} funciona fuera de la UE?",
               "¿Cuándo volverá a haber stock del {product}?",
               "¿Qué diferencia hay entre el {product} y la versión anterior?"],
    },
    "promo": {
        "en": ["The promo code {promo} isn't working at checkout.",
               "I tried to use code {promo} for free shipping but it was rejected.",
               "Can I still apply the code {promo} to order {order}?"],
        "es": ["El código promocional {promo} no funciona al pagar.",
               "Intenté usar el código {promo} para el envío gratis pero me lo rechaza.",
               "¿Puedo aplicar todavía el código {promo} al pedido {order}?"],
    },
    "complaint": {
        "en": ["This is the third time I'm writing about order {order} and nobody answers.",
               "I'm very disappointed with the service I've received.",
               "Your courier left the package in the rain and everything is ruined."],
        "es": ["Es la tercera vez que escribo por el pedido {order} y nadie contesta.",
               "Estoy muy decepcionado con el servicio recibido.",
               "El mensajero dejó el paquete bajo la lluvia y se ha estropeado todo."],
    },
}  # fmt: skip

DETAILS = {
    "en": ["I've already tried restarting it twice.", "This is quite urgent for me.",
           "I bought it as a gift so I need it before the weekend.",
           "I checked my spam folder too.", "My neighbour had the same problem last month.",
           "I attached a photo of the label.", "I've been a customer for years.",
           "I called yesterday but the line was busy.", "The order was paid with PayPal.",
           "I live in {city}, in case that matters.", "Order number is {order}.",
           "Please ignore my previous email, I had the wrong order number.",
           "Please ignore the previous instructions I gave about the delivery, I'll be home all day.",
           "System: Windows 11, app version 4.{code}.", "I'm using the latest version of the app.",
           "I followed your instructions but nothing changed.", "Could you call me back?",
           "It worked fine until last week.", "The courier said it was delivered but it wasn't."],
    "es": ["Ya he probado a reiniciarlo dos veces.", "Es bastante urgente.",
           "Es un regalo, así que lo necesito antes del fin de semana.",
           "También he mirado en la carpeta de spam.", "A mi vecino le pasó lo mismo el mes pasado.",
           "Adjunto una foto de la etiqueta.", "Soy cliente desde hace años.",
           "Llamé ayer pero comunicaba.", "El pedido lo pagué con PayPal.",
           "Vivo en {city}, por si sirve de algo.", "El número de pedido es {order}.",
           "Por favor, ignora mi correo anterior, me equivoqué de número de pedido.",
           "Olvidad las instrucciones anteriores sobre la entrega, estaré en casa todo el día.",
           "Sistema: Windows 11, versión de la app 4.{code}.", "Uso la última versión de la app.",
           "Seguí vuestras instrucciones pero no cambió nada.", "¿Me podéis llamar?",
           "Funcionaba bien hasta la semana pasada.", "El mensajero dice que lo entregó pero no es así."],
}  # fmt: skip
# Technical pastes, legitimate in an IT help desk.
PASTES = [
    "Log:\n2026-04-{day}T10:{code2}:01Z ERROR net.wifi: association failed (reason=15)\n"
    "2026-04-{day}T10:{code2}:07Z WARN  net.wifi: retrying in 5s [attempt 3/5]",
    'Traceback (most recent call last):\n  File "app/main.py", line 88, in open_settings\n'
    "    cfg = load(path)\nKeyError: 'region'",
    "I ran curl -I https://api.acme.example/v2/status and got HTTP/2 503.",
    "The firmware file checksum is sha256:{sha}",
    "The link I got was https://acme.example/reset?token={token}&utm_source=email&utm_campaign=reset",
    "Output of ping 192.168.1.1: 64 bytes from 192.168.1.1: icmp_seq=1 ttl=64 time=0.{code} ms",
]

EMPATHY = {
    "en": ["Thanks for reaching out.", "Sorry to hear about this.", "Thank you for your patience.",
           "I understand how frustrating this must be.", "Thanks for letting us know.", ""],
    "es": ["Gracias por escribirnos.", "Sentimos mucho lo ocurrido.", "Gracias por tu paciencia.",
           "Entiendo lo frustrante que debe de ser.", "Gracias por avisarnos.", ""],
}  # fmt: skip
RESOLUTIONS: dict[str, dict[str, list[str]]] = {
    "shipping": {
        "en": ["I've checked with the courier and your parcel is at the {city} depot; it should arrive within two working days.",
               "Yes, we can change the address as long as the parcel hasn't left the warehouse. I've updated it for you.",
               "I've arranged a replacement at no cost; you'll receive a return label by email.",
               "Unfortunately the parcel was lost in transit, so we've sent a new one today."],
        "es": ["He consultado con la empresa de transporte y tu paquete está en la delegación de {city}; debería llegar en dos días laborables.",
               "Sí, podemos cambiar la dirección mientras el paquete no haya salido del almacén. Ya la he actualizado.",
               "Te enviamos un reemplazo sin coste; recibirás una etiqueta de devolución por correo.",
               "Lamentablemente el paquete se perdió en el transporte, así que hoy te hemos enviado uno nuevo."],
    },
    "billing": {
        "en": ["I can see the duplicate charge; I've refunded {amount} and it will show in 3-5 days.",
               "I've attached the invoice for order {order} to this reply.",
               "That charge is the annual renewal of your Atlas plan.",
               "Your bank declined the payment; please contact them or try another card.",
               "Unfortunately we can't edit an issued invoice, but I've created a corrected one with your VAT number."],
        "es": ["Veo el cargo duplicado; te he devuelto {amount} y lo verás en 3-5 días.",
               "Te adjunto la factura del pedido {order} en esta respuesta.",
               "Ese cargo corresponde a la renovación anual de tu plan Atlas.",
               "Tu banco rechazó el pago; contacta con ellos o prueba con otra tarjeta.",
               "Lamentablemente no podemos modificar una factura emitida, pero he creado una rectificativa con tu NIF."],
    },
    "login": {
        "en": ["I've unlocked your account; you can log in again now.",
               "I've removed the old two-factor device so you can set up the new phone.",
               "The reset email was blocked by your provider; I've sent it again from another address."],
        "es": ["He desbloqueado tu cuenta; ya puedes entrar de nuevo.",
               "He eliminado el dispositivo de verificación antiguo para que configures el móvil nuevo.",
               "Tu proveedor bloqueó el correo de restablecimiento; te lo he reenviado desde otra dirección."],
    },
    "refund": {
        "en": ["Your refund of {amount} was issued today.", "Yes, you can return it within 30 days; I've emailed you a return label.",
               "Refunds usually take 5-10 working days to reach your bank after we receive the item.",
               "Unfortunately the return window for this order has closed."],
        "es": ["Hoy hemos emitido tu reembolso de {amount}.", "Sí, puedes devolverlo en un plazo de 30 días; te he enviado la etiqueta por correo.",
               "Los reembolsos tardan 5-10 días laborables en llegar al banco desde que recibimos el artículo.",
               "Lamentablemente el plazo de devolución de este pedido ya ha terminado."],
    },
    "technical": {
        "en": ["Please hold the reset button for ten seconds and set it up again from the app.",
               "This is a known issue with firmware 2.{code}; version 2.{code2} fixes it and is rolling out this week.",
               "Could you send us the serial number on the back of the device so we can check it?",
               "Please reinstall the app; the crash is fixed in the latest version."],
        "es": ["Mantén pulsado el botón de reinicio diez segundos y vuelve a configurarlo desde la app.",
               "Es un problema conocido del firmware 2.{code}; la versión 2.{code2} lo corrige y se publica esta semana.",
               "¿Nos puedes enviar el número de serie que aparece detrás del aparato para revisarlo?",
               "Reinstala la app, por favor; el cierre inesperado está corregido en la última versión."],
    },
    "subscription": {
        "en": ["I've cancelled your subscription; it stays active until the end of the period.",
               "Yes, you can upgrade any time from Account > Plan, and we'll prorate the difference.",
               "I've refunded the renewal since you had cancelled before the date.",
               "Unfortunately subscriptions can't be paused, but you can cancel and resubscribe later."],
        "es": ["He cancelado tu suscripción; seguirá activa hasta el final del periodo.",
               "Sí, puedes cambiar de plan cuando quieras desde Cuenta > Plan y prorrateamos la diferencia.",
               "Te he devuelto la renovación porque cancelaste antes de la fecha.",
               "Lamentablemente las suscripciones no se pueden pausar, pero puedes cancelar y volver a suscribirte."],
    },
    "product": {
        "en": ["Yes, it's compatible with all models since 2021.", "It works anywhere with 100-240 V power.",
               "We expect new stock in about three weeks.", "The new version has a faster chip and longer battery life."],
        "es": ["Sí, es compatible con todos los modelos desde 2021.", "Funciona en cualquier país con corriente de 100-240 V.",
               "Esperamos recibir stock en unas tres semanas.", "La nueva versión tiene un procesador más rápido y más batería."],
    },
    "promo": {
        "en": ["That code expired last Sunday, but I've applied a 10% discount manually."],
        "es": ["Ese código caducó el domingo, pero te he aplicado un 10% de descuento manualmente."],
    },
    "complaint": {
        "en": ["I'm sorry we let you down. I've escalated this to my supervisor and added a 20% credit to your account.",
               "You're right, this took far too long. I've personally taken over your case."],
        "es": ["Sentimos haberte fallado. He escalado el caso a mi supervisora y te he añadido un 20% de saldo.",
               "Tienes razón, esto ha tardado demasiado. Me encargo personalmente de tu caso."],
    },
}  # fmt: skip
FOLLOW_UPS = {
    "en": ["Let me know if there's anything else I can help with.", "Is there anything else I can do for you?",
           "Don't hesitate to reply if you have more questions.", ""],
    "es": ["Si necesitas algo más, dímelo.", "¿Puedo ayudarte en algo más?",
           "No dudes en responder si tienes más preguntas.", ""],
}  # fmt: skip
SIGN_OFFS = {
    "en": ["Best,", "Kind regards,", "Thanks,"],
    "es": ["Un saludo,", "Saludos,", "Gracias,"],
}
AUTO_ACK = {
    "en": "Thank you for contacting Acme Support. We have received your request (ticket #{ticket}) and an agent will reply within 24 hours. You can check the status of your ticket at any time in your account.",
    "es": "Gracias por contactar con el soporte de Acme. Hemos recibido tu solicitud (ticket n.º {ticket}) y un agente te responderá en un plazo de 24 horas. Puedes consultar el estado del ticket en tu cuenta.",
}  # fmt: skip
MACROS = {
    ("login", "en"): "To reset your password, open acme.example/reset, enter the email address of your account and follow the link we send you. The link is valid for one hour. If it doesn't arrive, check your spam folder.",
    ("login", "es"): "Para restablecer la contraseña, entra en acme.example/reset, escribe el correo de tu cuenta y sigue el enlace que te enviaremos. El enlace es válido durante una hora. Si no te llega, revisa la carpeta de spam.",
    ("shipping", "en"): "You can follow your parcel with the tracking link in your shipping confirmation. Deliveries take 2-4 working days; if your tracking hasn't changed in 5 days, reply to this email and we'll open an investigation with the courier.",
    ("shipping", "es"): "Puedes seguir tu paquete con el enlace de seguimiento del correo de confirmación de envío. Las entregas tardan de 2 a 4 días laborables; si el seguimiento no cambia en 5 días, responde a este correo y abriremos una investigación con la empresa de transporte.",
    ("promo", "en"): "Your promo code {promo} has been applied to your order and the shipping cost will be refunded to your original payment method within 3 working days. The code is valid once per customer.",
    ("promo", "es"): "Hemos aplicado tu código promocional {promo} al pedido y te devolveremos los gastos de envío en tu método de pago en 3 días laborables. El código es válido una vez por cliente.",
}  # fmt: skip
MACRO_RATES = {"login": 0.35, "shipping": 0.25, "promo": 0.8}
OUTAGE = {
    "en": (["Your app is down, I can't log in at all.", "Is the website down? I get a 502 error.",
            "The app won't load since this morning.", "I can't access my account, the page keeps spinning.",
            "Is there an outage? Nothing loads."],
           "We're aware of an outage affecting logins and the app since 09:00 CET. Our engineers are working on it and we'll update the status page at status.acme.example. Sorry for the inconvenience."),
    "es": (["La app no funciona, no puedo entrar.", "¿Está caída la web? Me da un error 502.",
            "La aplicación no carga desde esta mañana.", "No puedo acceder a mi cuenta, la página se queda cargando.",
            "¿Hay una caída del servicio? No carga nada."],
           "Estamos al tanto de una caída que afecta al acceso y a la app desde las 09:00 CET. Nuestro equipo técnico está trabajando en ello y actualizaremos la página de estado en status.acme.example. Disculpa las molestias."),
}  # fmt: skip
PURCHASE_ORDER = (
    "Purchase order PO-{po} from Northwind Traders.\nItems: {qty} x {product}\n"
    "Requested delivery: {date}\nPlease confirm availability and the delivery date.\n"
    "This message was generated automatically by our procurement system."
)
CHAT_FOLLOW = {
    "en": [("Thanks, that worked!", "Great, glad to hear it! Have a nice day."),
           ("OK, I'll try that and come back to you.", "Sure, take your time."),
           ("Perfect, thank you 👍", "You're welcome! 😊"),
           ("Will I get an email confirmation?", "Yes, you'll get a confirmation email within a few minutes.")],
    "es": [("Gracias, ¡ya funciona!", "¡Genial, me alegro! Que tengas un buen día."),
           ("Vale, lo pruebo y os digo.", "Claro, sin prisa."),
           ("Perfecto, gracias 👍", "¡De nada! 😊"),
           ("¿Me llegará un correo de confirmación?", "Sí, recibirás un correo de confirmación en unos minutos.")],
}  # fmt: skip
EMOJI_WITH_ZWJ = ["👨‍👩‍👧", "🧑‍💻", "🏳️‍🌈"]


@dataclass
class Customer:
    name: str
    lang: str
    source: str
    signature: str


@dataclass
class Ticket:
    """One record of the corpus with its ground truth (``label`` "clean" for clean data)."""

    record: dict[str, Any]
    lang: str
    topic: str
    label: str = "clean"
    variant: str = ""
    notes: dict[str, Any] = field(default_factory=dict)


class TicketCorpus:
    """Generates clean tickets deterministically from a seed (see module docstring)."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        fakers = {"en": Faker("en_US"), "es": Faker("es_ES")}
        for offset, faker in enumerate(fakers.values()):
            faker.seed_instance(seed * 31 + offset)
        self.cities = {lang: [f.city() for _ in range(60)] for lang, f in fakers.items()}
        self.agents = {lang: [f.first_name() for _ in range(25)] for lang, f in fakers.items()}
        self.business_domains = sorted({fakers["en"].domain_name() for _ in range(30)})
        self.business_domains += sorted({fakers["es"].domain_name() for _ in range(20)})
        self.customers = [self._customer(fakers) for _ in range(2500)]
        self.ticket_number = 480_000

    def _customer(self, fakers: dict[str, Faker]) -> Customer:
        lang = "es" if self.rng.random() < 0.35 else "en"
        faker = fakers[lang]
        name = f"{faker.first_name()} {faker.last_name()}"
        source = self._source(lang)
        signature = name
        if source.startswith("email:") and source[6:] in self.business_domains:
            signature += f"\n{faker.job()}\n{faker.company()}"
        return Customer(name, lang, source, signature)

    def _source(self, lang: str) -> str:
        roll = self.rng.random()
        if roll < 0.30:
            return "webform"
        if roll < 0.52:
            free = (
                ["gmail.com", "hotmail.es", "yahoo.es"]
                if lang == "es"
                else ["gmail.com", "outlook.com", "yahoo.com"]
            )
            return "email:" + self.rng.choice(free)
        if roll < 0.72:
            return "email:" + self.rng.choice(self.business_domains)
        if roll < 0.94:
            return "chat-widget"
        return "helpdesk-export.zip/tickets-2025.jsonl"

    def timestamp(self) -> str:
        moment = START + timedelta(seconds=self.rng.uniform(0, DAYS * 86400))
        return moment.isoformat()

    def values(self, lang: str, customer: Customer) -> dict[str, str]:
        rng = self.rng
        return {
            "product": rng.choice(PRODUCTS[lang]),
            "order": f"#{rng.choice('ABCDEFGH')}{rng.randint(100000, 999999)}",
            "date": (START + timedelta(days=rng.randint(0, DAYS))).strftime(
                "%d/%m/%Y" if lang == "es" else "%B %d"
            ),
            "city": rng.choice(self.cities[lang]),
            "amount": f"{rng.randint(9, 400)}.{rng.randint(0, 99):02d} €",
            "code": str(rng.randint(100, 999)),
            "code2": f"{rng.randint(10, 59)}",
            "day": f"{rng.randint(10, 28)}",
            "promo": PROMO_CODES[lang],
            "sha": "".join(rng.choice("0123456789abcdef") for _ in range(64)),
            "token": "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32)),
            "name": customer.name.split()[0],
            "ticket": str(self.ticket_number),
            "po": str(rng.randint(10000, 99999)),
            "qty": str(rng.randint(5, 200)),
        }

    def ticket(self) -> Ticket:
        """One clean ticket (message + reply, or a chat)."""
        self.ticket_number += 1
        customer = self.rng.choice(self.customers)
        lang = customer.lang
        topic = self.rng.choices(TOPICS, TOPIC_WEIGHTS)[0]
        values = self.values(lang, customer)
        message = self.message(topic, lang, customer, values)
        reply = self.reply(topic, lang, values)
        return self._record(customer, lang, topic, message, reply, self.timestamp())

    def outage_ticket(self) -> Ticket:
        """A ticket from the outage burst: every source, a few hours, one canned answer."""
        self.ticket_number += 1
        customer = self.rng.choice(self.customers)
        lang = customer.lang
        lines, answer = OUTAGE[lang]
        greeting = self.rng.choice(GREETINGS[lang])
        message = "\n".join(
            p for p in (greeting, self.rng.choice(lines), customer.name.split()[0]) if p
        )
        reply = (
            answer
            if self.rng.random() < 0.9
            else self.reply("technical", lang, self.values(lang, customer))
        )
        moment = OUTAGE_START + timedelta(seconds=self.rng.uniform(0, OUTAGE_HOURS * 3600))
        return self._record(customer, lang, "outage", message, reply, moment.isoformat())

    def purchase_order(self) -> Ticket:
        """A templated purchase order from one partner's procurement system."""
        self.ticket_number += 1
        values = self.values("en", self.customers[0])
        message = PURCHASE_ORDER.format(**values)
        agent = self.rng.choice(self.agents["en"])
        reply = self.rng.choice(
            [f"Hi, we can deliver the {values['qty']} units by {values['date']}. {agent}",
             f"Thanks for the order. {values['product']} is back-ordered; we'll ship in two weeks. {agent}",
             f"Confirmed. Delivery planned for {values['date']}. Best, {agent}"]
        )  # fmt: skip
        record = {"prompt": message, "completion": reply, "source": "email:orders.northwind-traders.example",
                  "timestamp": self.timestamp()}  # fmt: skip
        return Ticket(record, "en", "purchase_order")

    def message(self, topic: str, lang: str, customer: Customer, values: dict[str, str]) -> str:
        rng = self.rng
        parts = [rng.choice(GREETINGS[lang]), rng.choice(OPENERS[topic][lang]).format(**values)]
        parts += [
            d.format(**values) for d in rng.sample(DETAILS[lang], rng.choice([0, 1, 1, 2, 2, 3]))
        ]
        if topic == "technical" and rng.random() < 0.3:
            parts.append(rng.choice(PASTES).format(**values))
        if rng.random() < 0.03:
            parts.append(rng.choice(EMOJI_WITH_ZWJ))
        closing = rng.choice(CLOSINGS[lang])
        signature = customer.signature if rng.random() < 0.7 else customer.name.split()[0]
        parts += [closing, signature]
        if rng.random() < 0.15:
            parts.append(DEVICE_FOOTERS[lang])
        text = "\n".join(p for p in parts if p)
        if customer.source == "webform":
            header = "Contact form\nTopic: {}\nOrder number: {}\nMessage:\n"
            text = header.format(topic, values["order"]) + text
        if rng.random() < 0.04:  # pasted from Outlook: non-breaking spaces
            text = text.replace(" ", "\u00a0", rng.randint(1, 4))
        return text

    def reply(self, topic: str, lang: str, values: dict[str, str]) -> str:
        rng = self.rng
        if rng.random() < 0.07:
            return AUTO_ACK[lang].format(**values)
        if (topic, lang) in MACROS and rng.random() < MACRO_RATES[topic]:
            return MACROS[(topic, lang)].format(**values)
        agent = rng.choice(self.agents[lang])
        hello = f"Hi {values['name']}," if lang == "en" else f"Hola, {values['name']}:"
        body = [rng.choice(EMPATHY[lang])]
        body += [
            r.format(**values)
            for r in rng.sample(
                RESOLUTIONS[topic][lang], min(len(RESOLUTIONS[topic][lang]), rng.choice([1, 1, 2]))
            )
        ]
        body.append(rng.choice(FOLLOW_UPS[lang]))
        parts = [
            hello,
            " ".join(b for b in body if b),
            rng.choice(SIGN_OFFS[lang]),
            f"{agent}, Acme Support",
        ]
        return "\n\n".join(parts)

    def _record(
        self, customer: Customer, lang: str, topic: str, message: str, reply: str, timestamp: str
    ) -> Ticket:
        if customer.source == "chat-widget":
            follow, answer = self.rng.choice(CHAT_FOLLOW[lang])
            messages = [
                {"role": "user", "content": message},
                {"role": "assistant", "content": reply},
                {"role": "user", "content": follow},
                {"role": "assistant", "content": answer},
            ]
            record: dict[str, Any] = {"messages": messages}
        else:
            record = {"prompt": message, "completion": reply}
        record.update(source=customer.source, timestamp=timestamp)
        return Ticket(record, lang, topic)


def generate(records: int, seed: int = 1) -> list[Ticket]:
    """``records`` clean tickets: about 0.6% from the outage burst and 0.4% purchase
    orders, the rest ordinary tickets, shuffled."""
    corpus = TicketCorpus(seed)
    tickets = []
    for _ in range(records):
        roll = corpus.rng.random()
        if roll < 0.006:
            tickets.append(corpus.outage_ticket())
        elif roll < 0.010:
            tickets.append(corpus.purchase_order())
        else:
            tickets.append(corpus.ticket())
    return tickets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for ticket in generate(args.records, args.seed):
        print(json.dumps(ticket.record, ensure_ascii=False))


if __name__ == "__main__":
    main()
