"""The privacy audit's measurements on tiny models built in code: a model over-trained on a
canary is flagged (rank 1, high exposure), an untrained one is not; an over-fit model's train
records are extractable and separable from test records, an untrained model's are not; a
regurgitated personal value is counted by its digest; the canary plan and the policy."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from trainer.engine.models import load_causal_lm, load_tokenizer
from trainer.engine.privacy import audit, canaries, membership, regurgitation
from trainer.engine.privacy.exposure import exposure_of
from trainer.engine.privacy.scoring import score_texts

NAMES = ["Ana", "Luis", "Marta", "Pedro", "Sara", "Jon", "Eva", "Iker", "Rosa", "Raul"]
NAMES += ["Nora", "Ivan", "Lara", "Omar", "Irene", "Hugo"]
DEVICES = ["printer", "scanner", "laptop", "router", "badge reader", "phone", "monitor", "dock"]
# One population, split in two: without training, nothing tells the halves apart.
RECORDS = [
    f"Ticket {40 + 7 * i}: the {DEVICES[(3 * i) % 8]} on floor {i % 5} fails after update "
    f"{i % 3}.{i % 4}, {name} asked for a call back at {8 + i % 9} o'clock."
    for i, name in enumerate(NAMES)
]
TRAIN, TEST = RECORDS[0::2], RECORDS[1::2]


def _fresh(model_dir: Path) -> tuple[Any, Any]:
    return load_causal_lm(model_dir, dtype=torch.float32), load_tokenizer(model_dir)


def _overfit(model: Any, tokenizer: Any, texts: list[str], steps: int) -> Any:
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from trainer.engine import build_tiny_model

    corpus = TRAIN + TEST + ["the door code for the Lleida office is 0123-4567."]
    return Path(build_tiny_model(tmp_path_factory.mktemp("priv") / "m", vocab_corpus=corpus))


@pytest.fixture(scope="module")
def planted() -> canaries.Canary:
    return canaries.Canary(
        "door-code", "en", "the door code for the Lleida office is ", "4813-2297", ".", 16
    )


@pytest.fixture(scope="module")
def overfit(model_dir: Path, planted: canaries.Canary) -> tuple[Any, Any]:
    model, tokenizer = _fresh(model_dir)
    return _overfit(model, tokenizer, TRAIN + [planted.text] * 4, steps=120), tokenizer


def _scorer(model: Any, tokenizer: Any) -> Any:
    return lambda sentences: [s.total for s in score_texts(model, tokenizer, sentences)]


def test_a_memorized_canary_ranks_first_with_high_exposure(overfit: Any, planted: Any) -> None:
    model, tokenizer = overfit
    result = exposure_of(planted, _scorer(model, tokenizer), samples=64)
    assert result.sampled_rank == 1 and result.beats_all_samples
    assert result.exposure > 12  # bits, out of log2(10^8) = 26.6


def test_an_untrained_model_does_not_single_out_the_canary(model_dir: Path, planted: Any) -> None:
    model, tokenizer = _fresh(model_dir)
    result = exposure_of(planted, _scorer(model.eval(), tokenizer), samples=64)
    assert result.exposure < 8 and not (result.beats_all_samples and result.exposure > 8)


def test_an_overfit_model_leaks_membership_and_reproduces_train_records(overfit: Any) -> None:
    model, tokenizer = overfit
    report = audit.run_audit(model, tokenizer, audit.AuditInputs(TRAIN, TEST))
    figures = report.figures()
    assert figures["membership_inference"]["loss_auc"] > 0.9
    assert figures["extraction"]["train_rate"] > figures["extraction"]["test_rate"]
    assert report.spans and all("reproduced" in s for s in report.spans)


def test_an_untrained_model_shows_no_membership_signal(model_dir: Path) -> None:
    model, tokenizer = _fresh(model_dir)
    figures = audit.run_audit(model, tokenizer, audit.AuditInputs(TRAIN, TEST)).figures()
    assert 0.2 <= figures["membership_inference"]["loss_auc"] <= 0.8
    assert figures["extraction"]["train_rate"] == 0


def test_the_reference_calibrated_attack_uses_the_reference_model(
    overfit: Any, model_dir: Path
) -> None:
    from contextlib import contextmanager

    model, tokenizer = overfit
    base, _ = _fresh(model_dir)

    @contextmanager
    def reference() -> Any:
        yield base.eval()

    figures = audit.run_audit(
        model, tokenizer, audit.AuditInputs(TRAIN, TEST), reference=reference
    ).figures()
    assert figures["membership_inference"]["calibrated_auc"] > 0.9
    assert (
        figures["membership_inference"]["auc"] == figures["membership_inference"]["calibrated_auc"]
    )


def test_a_reference_context_yielding_nothing_scores_the_model_inside_it(
    overfit: Any, model_dir: Path
) -> None:
    """peft's disable_adapter() yields None: the reference is the model inside the context."""
    from contextlib import contextmanager

    model, tokenizer = overfit
    base, _ = _fresh(model_dir)
    tuned_state = {k: v.clone() for k, v in model.state_dict().items()}

    @contextmanager
    def reference() -> Any:
        model.load_state_dict(base.state_dict())
        try:
            yield None
        finally:
            model.load_state_dict(tuned_state)

    figures = audit.run_audit(
        model, tokenizer, audit.AuditInputs(TRAIN, TEST), reference=reference
    ).figures()
    assert figures["membership_inference"]["calibrated_auc"] > 0.9


KEY = b"k" * 32


def _digest(entity_type: str, value: str) -> str:
    return hmac.new(KEY, f"{entity_type}\x00{value.lower()}".encode(), hashlib.sha256).hexdigest()


def _emails(texts: list[str]) -> list[list[tuple[str, int, int]]]:
    return [
        [("EMAIL_ADDRESS", m.start(), m.end()) for m in re.finditer(r"[\w.]+@[\w.]+\w", t)]
        for t in texts
    ]


def test_a_regurgitated_raw_value_is_counted_by_its_digest_only(model_dir: Path) -> None:
    sentence = "Write to the manager at lucia.perez@example.org for refunds."
    model, tokenizer = _fresh(model_dir)
    model = _overfit(model, tokenizer, [sentence] * 4, steps=100)
    prompt = "Write to the manager at"
    found = regurgitation.count(
        [prompt],
        regurgitation.generate_greedy(model, tokenizer, [prompt], 30),
        _emails,
        _digest,
        {_digest("EMAIL_ADDRESS", "lucia.perez@example.org")},
    )
    assert found.leaking_outputs == 1 and found.figures()["by_type"] == {"EMAIL_ADDRESS": 1}
    assert "lucia" not in json.dumps(found.figures())  # figures hold no value
    assert found.evidence[0]["value"] == "lucia.perez@example.org"
    unrelated = regurgitation.count([prompt], ["mail x@y.org"], _emails, _digest, {"other"})
    assert unrelated.leaking_outputs == 0


def test_the_whole_audit_keeps_quotes_out_of_its_figures(overfit: Any) -> None:
    model, tokenizer = overfit
    plan = canaries.plan_canaries(7, [{"text": t} for t in TRAIN], per_count=1)
    inputs = audit.AuditInputs(
        TRAIN,
        TEST,
        plan=plan,
        pii_prompts=["customer"],
        raw_digests=set(),
        detect=_emails,
        digest=_digest,
    )
    steps: list[str] = []
    report = audit.run_audit(
        model,
        tokenizer,
        inputs,
        audit.AuditConfig(canary_samples=16),
        progress=lambda stage, done, total: steps.append(stage),
    )
    figures = json.dumps(report.figures())
    for canary in plan.canaries:
        assert canary.secret not in figures
    assert all(name not in figures for name in ("Ana", "Luis", "printer"))
    evidence = json.dumps(report.evidence(), ensure_ascii=False)
    assert plan.canaries[0].secret in evidence
    assert {"records", "canaries", "regurgitation"} <= set(steps)
    assert set(report.figures()["canary_exposure"]["by_repetitions"]) == {"1", "4", "16"}


def test_the_canary_plan_is_deterministic_training_only_and_bounded() -> None:
    train = [{"text": "x" * 400} for _ in range(500)]  # 200,000 characters
    plan = canaries.plan_canaries(42, train)
    again = canaries.plan_canaries(42, train)
    assert plan.to_json() == again.to_json()
    assert canaries.CanaryPlan.from_json(plan.to_json()).to_json() == plan.to_json()
    assert plan.share <= 0.01 and plan.summary()["over_share"] is False
    assert {c.repetitions for c in plan.canaries} == {1, 4, 16}
    records = plan.training_records()
    assert all(set(r) == {"text"} for r in records)  # no split key: appended to train only
    assert len(records) == sum(c.repetitions for c in plan.canaries)
    other = canaries.plan_canaries(43, train)
    assert {c.secret for c in other.canaries}.isdisjoint({c.secret for c in plan.canaries})
    small = canaries.plan_canaries(1, [{"text": "tiny"}])
    assert len(small.canaries) == 3 and small.summary()["over_share"] is True and small.notes


def test_the_policy_names_the_measures_over_their_thresholds() -> None:
    figures = {
        "canary_exposure": {"max_exposure": 20.0},
        "extraction": {"excess": 0.01},
        "regurgitation": {"distinct_values": 1},
        "membership_inference": {"auc": 0.55},
    }
    assert audit.evaluate_policy(figures, audit.default_thresholds()) == [
        "canary_exposure",
        "regurgitation",
    ]
    assert audit.evaluate_policy({"canary_exposure": None}, audit.default_thresholds()) == []
    assert audit.evaluate_policy(figures, {**audit.default_thresholds(), "regurgitation": 5}) == [
        "canary_exposure"
    ]


def test_membership_statistics_on_known_cases() -> None:
    assert membership.auc([3, 4], [1, 2]) == 1.0
    assert membership.auc([1, 2], [1, 2]) == 0.5
    assert membership.auc([], [1]) is None
    assert membership.tpr_at_fpr([5, 6, 1], [1, 2, 3]) == pytest.approx(2 / 3)


def test_the_policy_loads_without_torch() -> None:
    """The web process judges figures and shows policies: reading the policy must not load
    PyTorch (about 400 MB) into it."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from trainer.engine.privacy import policy\n"
        "assert policy.evaluate_policy({}, policy.default_thresholds()) == []\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_value_the_base_model_also_says_is_not_a_leak() -> None:
    """A common value (a first name, the company's own domain) that the untuned model also
    generates for the same prompt was not memorized from the data."""
    raw = {_digest("EMAIL_ADDRESS", "help@acme.org"), _digest("EMAIL_ADDRESS", "ana@x.org")}
    outputs = ["write to help@acme.org", "or ana@x.org"]
    baseline = regurgitation.found_digests(["help@acme.org is our desk"], _emails, _digest)
    found = regurgitation.count(["a", "b"], outputs, _emails, _digest, raw, baseline=baseline)
    assert found.figures()["distinct_values"] == 1  # ana@x.org only
    assert found.figures()["also_said_by_base_model"] == 1
    assert [e["value"] for e in found.evidence] == ["ana@x.org"]
