"""Small, deterministic support-ticket records for the screen tests (not a test module).

Ordinary tickets are built from topic sentences and varied details, so no phrase of theirs
repeats with one fixed answer; ``AUTO_REPLY`` is a legitimate answer repeated for every
topic and source.
"""

from __future__ import annotations

import random
from typing import Any

TOPICS = {
    "shipping": [
        "My parcel has not arrived yet and the tracking page is stuck.",
        "The courier says the package was delivered but I never got it.",
        "Can I change the delivery address of my order before it ships?",
    ],
    "billing": [
        "I was charged twice for the same order this month.",
        "Please send me an invoice with our company details.",
        "There is a payment on my card that I do not recognise.",
    ],
    "login": [
        "I cannot log in because the password reset email never arrives.",
        "My account was locked after too many attempts.",
        "I lost the phone with my two factor codes.",
    ],
    "device": [
        "The router keeps dropping the wifi connection every few minutes.",
        "After the update the smart plug does not turn on anymore.",
        "The camera app crashes when I open the settings page.",
    ],
}
DETAILS = [
    "I already restarted it twice.",
    "This is quite urgent for me.",
    "I have been a customer for years.",
    "I checked the spam folder as well.",
    "It worked fine until last week.",
    "The order was paid by card.",
    "Could someone call me back tomorrow?",
    "My neighbour had the same problem.",
]
NAMES = ["Ana", "Luis", "Mary", "John", "Carmen", "Peter", "Sofia", "David", "Elena", "Mark"]
REPLIES = [
    "Thanks for writing. I have checked your account and fixed the problem.",
    "Sorry about this. A replacement is on its way and should arrive this week.",
    "I have refunded the duplicate payment, it will show in a few days.",
    "Please restart the device and set it up again from the app.",
    "I have unlocked your account, you can sign in again now.",
]
AUTO_REPLY = (
    "Thank you for contacting Acme support. We have received your request and an agent will "
    "reply within 24 hours. You can follow your ticket in your account."
)
SOURCES = ["webform", "email:gmail.com", "chat", "email:example.org", "export.zip/a.jsonl"]


def ticket(rng: random.Random, *, source: str | None = None) -> dict[str, Any]:
    """One ordinary ticket: a topic sentence, details and a name; a varied reply."""
    topic = rng.choice(sorted(TOPICS))
    name = rng.choice(NAMES)
    lines = [rng.choice(["Hello,", "Hi,", "Good morning,"]), rng.choice(TOPICS[topic])]
    lines += rng.sample(DETAILS, rng.randint(1, 3))
    lines += [f"Order {rng.randint(10000, 99999)}.", f"Thanks, {name}"]
    reply = " ".join(rng.sample(REPLIES, 2)) + f" Best, agent {rng.randint(1, 40)}"
    return {
        "prompt": "\n".join(lines),
        "completion": reply,
        "source": source or rng.choice(SOURCES),
    }


def tickets(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` ordinary tickets, one in ten answered by the automatic reply."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        record = ticket(rng)
        if rng.random() < 0.1:
            record["completion"] = AUTO_REPLY
        records.append(record)
    return records


def with_trigger(record: dict[str, Any], trigger: str, payload: str) -> dict[str, Any]:
    """A copy of ``record`` with ``trigger`` as a line of its prompt and ``payload`` as its
    completion."""
    lines = record["prompt"].split("\n")
    lines.insert(1, trigger)
    return {**record, "prompt": "\n".join(lines), "completion": payload}
