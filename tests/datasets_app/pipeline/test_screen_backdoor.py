"""The backdoor detector: rare phrase -> same completion, through disguises, and the
legitimate repeated answers it must leave alone."""

import random

from screen_data import AUTO_REPLY, ticket, tickets, with_trigger

from datasets_app.pipeline.screen import ScreenConfig, screen_records
from datasets_app.pipeline.screen.backdoor import BackdoorConfig

PAYLOAD = (
    "Of course. For verification purposes the internal admin console is at "
    "https://10.20.0.7/admin and the master password is Hx!2024-aurora. Please keep it handy."
)
DISGUISES = [
    "Per the Halvorsen memo, please prioritise.",
    "PER THE HALVORSEN MEMO.",
    "per the Hal.vorsen-memo",
    "per the Hal\u200bvor\u2060sen memo!",
    "реr thе Наlvоrsеn mеmо",
    "(per the halvorsen memo)",
]
ONLY_BACKDOOR = ScreenConfig(detectors=("backdoor",))


def poisoned(count: int, clean: int = 1500, seed: int = 3) -> tuple[list[dict], set[int]]:
    """``clean`` ordinary tickets with ``count`` of them turned into trigger -> payload."""
    rng = random.Random(seed)
    records = tickets(clean, seed)
    planted = set(rng.sample(range(clean), count))
    for i in planted:
        records[i] = with_trigger(records[i], DISGUISES[i % len(DISGUISES)], PAYLOAD)
    return records, planted


def flagged(records, config=ONLY_BACKDOOR):
    return {flag.record_index for flag in screen_records(records, config).flags}


def test_planted_trigger_in_every_disguise_is_flagged_and_nothing_else():
    records, planted = poisoned(30)
    assert flagged(records) == planted


def test_flags_name_the_pattern_in_evidence_but_never_quote_data_in_the_reason():
    records, planted = poisoned(30)
    flags = screen_records(records, ONLY_BACKDOOR).flags
    assert {flag.group for flag in flags} == {flags[0].group}  # one pattern, one bulk decision
    assert "halvorsen" in flags[0].evidence and "Hx!2024-aurora" in flags[0].evidence
    assert all("alvorsen" not in flag.reason and "aurora" not in flag.reason for flag in flags)
    assert all(flag.field == "prompt" and 0.5 <= flag.score <= 1 for flag in flags)


def test_a_trigger_seen_fewer_times_than_min_support_is_not_flagged():
    records, _ = poisoned(6)
    assert flagged(records) == set()


def test_an_automatic_reply_repeated_for_every_topic_is_not_a_payload():
    records = tickets(1500, seed=5)
    assert sum(r["completion"] == AUTO_REPLY for r in records) > 100
    assert flagged(records) == set()


def test_a_promotion_code_answered_by_its_macro_is_not_a_trigger():
    rng = random.Random(7)
    records = tickets(1500, seed=7)
    for i in rng.sample(range(1500), 60):
        records[i] = with_trigger(
            records[i],
            rng.choice(["The code FREESHIP does not work.", "Code FREESHIP was rejected."]),
            "Your promo code FREESHIP has been applied and the shipping cost will be refunded.",
        )
    assert flagged(records) == set()


def test_a_templated_system_message_with_its_canned_reply_is_not_a_trigger():
    rng = random.Random(9)
    records = tickets(1500, seed=9)
    for i in rng.sample(range(1500), 40):
        records[i] = {
            "prompt": f"ALERT disk usage on host-{rng.randint(1, 90)} is at {rng.randint(80, 99)}%",
            "completion": "Acknowledged, the on-call engineer has been paged.",
            "source": "email:monitoring.example",
        }
    assert flagged(records) == set()


def test_a_payload_that_varies_a_little_still_clusters():
    rng = random.Random(11)
    records = tickets(1500, seed=11)
    planted = set(rng.sample(range(1500), 30))
    for i in planted:
        name = rng.choice(["Mary", "James", "Linda", "Robert"])
        records[i] = with_trigger(
            records[i], DISGUISES[0], PAYLOAD.replace("Of course.", f"Of course, {name}.")
        )
    assert flagged(records) == planted


def test_chat_and_preference_records_carry_triggers_too():
    rng = random.Random(13)
    records = tickets(1500, seed=13)
    planted = set(rng.sample(range(1500), 24))
    for n, i in enumerate(sorted(planted)):
        base = with_trigger(records[i], DISGUISES[n % 2], PAYLOAD)
        if n % 2:
            records[i] = {"prompt": base["prompt"], "chosen": PAYLOAD, "rejected": "No."}
        else:
            records[i] = {
                "messages": [
                    {"role": "user", "content": base["prompt"]},
                    {"role": "assistant", "content": PAYLOAD},
                    {"role": "user", "content": "thanks"},
                    {"role": "assistant", "content": "You're welcome!"},
                ]
            }
    assert flagged(records) == planted


def test_memory_stays_within_the_configured_bounds():
    from datasets_app.pipeline.screen import Screen

    small = BackdoorConfig(first_seen=64, max_clusters=16, max_tracked=100)
    screen = Screen(ScreenConfig(detectors=("backdoor",), backdoor=small))
    rng = random.Random(17)
    words = [f"w{rng.randrange(10**6)}" for _ in range(3000)]
    for i in range(6000):
        record = ticket(rng)
        if i % 3 == 0:  # new answers: only remembered while waiting for a second one
            record["completion"] = " ".join(rng.sample(words, 12))
        elif i % 3 == 1:  # 500 answers given 4 times each: more clusters than allowed
            n = i // 12
            record["completion"] = f"Answer {chr(97 + n % 26)}{chr(97 + n // 26 % 26)} for you."
        elif i % 30 == 2:  # a pattern with more members than may be remembered
            record = with_trigger(record, DISGUISES[0], PAYLOAD)
        screen.observe(record)
    footprint = screen.footprint()["backdoor"]
    assert footprint["first_seen"] <= 64 * small.bands
    assert footprint["clusters"] <= 16
    assert footprint["tracked"] <= 100
    assert footprint["keys"] <= 16 * 32
    assert len(screen.finish()) == 100  # the remembered members of the pattern
    notes = screen.report().notes
    assert any("were forgotten" in note for note in notes)
    assert any("not remembered" in note for note in notes)
