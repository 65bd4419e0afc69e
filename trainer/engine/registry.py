"""The one list of training methods and objectives: names, allowed combinations, help texts.

A job is an *objective* (what the loss rewards: `supervised`, `dpo`, `orpo`, `kto`) trained
through a *method*, the parameterization (which weights train: `lora`, `dora`, `qlora`, `full`,
`freeze`, `from_scratch`). The two are chosen independently, within the combinations listed
here. Everything that needs to know about a method or an objective asks this module (the
config's validation, the model set-up, checkpoints, the estimate, the API serializer, the
forms); no other module compares method or objective names.

Imports nothing heavy (no torch, no Django): the web process reads it to validate and render
job forms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Record shapes, in the dataset pipeline's vocabulary (`DatasetVersion.record_kinds`).
TEXT = "text"
PROMPT_COMPLETION = "prompt_completion"
CHAT = "chat"
PREFERENCE = "preference"  # {"prompt" | "messages", "chosen", "rejected"}
UNPAIRED_PREFERENCE = "unpaired_preference"  # {"prompt" | "messages", "completion", "label"}
RECORD_KINDS = (TEXT, PROMPT_COMPLETION, CHAT, PREFERENCE, UNPAIRED_PREFERENCE)

LORA_SETTINGS = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")


@dataclass(frozen=True)
class Method:
    """A parameterization: which weights train and how the model is built.

    `adapter`: PEFT adapters over a frozen base (the reference model of a preference objective
    is then the base with adapters disabled). `quantized`: the frozen base is 4-bit (QLoRA,
    NVIDIA GPU with bitsandbytes only). `dora`: weight-decomposed adapters. `shardable`: FSDP
    may shard it across GPUs. `freezes_layers`: needs `freeze_layers` >= 1. `from_scratch`: a
    new model and tokenizer, no base model.
    """

    name: str
    help: str
    settings: tuple[str, ...] = ()
    adapter: bool = False
    quantized: bool = False
    dora: bool = False
    shardable: bool = False
    freezes_layers: bool = False
    from_scratch: bool = False

    @property
    def needs_base_model(self) -> bool:
        return not self.from_scratch

    @property
    def trains_tokenizer(self) -> bool:
        """True when the job's tokenizer is learned from its (private) data and must be stored
        encrypted with the model."""
        return self.from_scratch


@dataclass(frozen=True)
class Objective:
    """A training objective: one recipe module under `trainer.engine.recipes`.

    `record_kinds`: the record shapes it trains on. `settings`: the TrainConfig fields that
    belong to it (refused, naming the field, when set for another objective). `reference`: it
    compares the policy with a frozen reference model (DPO, KTO). `methods`: the
    parameterizations it may train through. `reference_forwards` / `policy_forwards`: forward
    passes without gradient it adds per trained token (for the time estimate).
    """

    name: str
    help: str
    record_kinds: tuple[str, ...]
    methods: tuple[str, ...]
    settings: tuple[str, ...] = ()
    reference: bool = False
    reference_forwards: float = 0.0
    policy_forwards: float = 0.0

    @property
    def preference(self) -> bool:
        """True for objectives that learn from preferences rather than from examples."""
        return PREFERENCE in self.record_kinds or UNPAIRED_PREFERENCE in self.record_kinds


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "lora",
            "Low-rank adapters on every linear layer; the base stays frozen. A few MB to train "
            "and store; the default.",
            settings=LORA_SETTINGS,
            adapter=True,
        ),
        Method(
            "dora",
            "Weight-decomposed LoRA: adapters plus a trainable magnitude per output; slower "
            "per step than LoRA, sometimes better.",
            settings=LORA_SETTINGS,
            adapter=True,
            dora=True,
        ),
        Method(
            "qlora",
            "LoRA over a 4-bit NF4 base (bitsandbytes): the least memory. NVIDIA GPU only.",
            settings=LORA_SETTINGS,
            adapter=True,
            quantized=True,
        ),
        Method(
            "full",
            "Every weight trains: the most capacity and memory (weights, gradients, AdamW).",
            shardable=True,
        ),
        Method(
            "freeze",
            "Full fine-tuning with the embeddings and the first freeze_layers decoder layers "
            "frozen.",
            settings=("freeze_layers",),
            shardable=True,
            freezes_layers=True,
        ),
        Method(
            "from_scratch",
            "A new Llama-architecture model of scratch_preset size, with a tokenizer learned "
            "from the training split.",
            settings=("scratch_preset", "scratch_vocab_size"),
            shardable=True,
            from_scratch=True,
        ),
    )
}

_WITH_BASE = tuple(name for name, method in METHODS.items() if method.needs_base_model)

OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective(
            "supervised",
            "Learn from examples: next-token loss on text, or on the answers of "
            "prompt/completion and chat records.",
            record_kinds=(TEXT, PROMPT_COMPLETION, CHAT),
            methods=tuple(METHODS),
        ),
        Objective(
            "dpo",
            "Direct Preference Optimization: prefer the chosen answer over the rejected one, "
            "relative to the untrained model (sigmoid loss, beta).",
            record_kinds=(PREFERENCE,),
            methods=_WITH_BASE,
            settings=("beta", "label_smoothing"),
            reference=True,
            reference_forwards=1.0,
        ),
        Objective(
            "orpo",
            "Odds Ratio Preference Optimization: next-token loss on the chosen answer plus "
            "orpo_lambda x an odds-ratio penalty on the rejected one; needs no reference model.",
            record_kinds=(PREFERENCE,),
            methods=_WITH_BASE,
            settings=("orpo_lambda",),
        ),
        Objective(
            "kto",
            "Kahneman-Tversky Optimization: learn from answers marked good or bad (label "
            "true/false), unpaired; preference pairs are split into one of each.",
            record_kinds=(UNPAIRED_PREFERENCE, PREFERENCE),
            methods=_WITH_BASE,
            settings=("beta", "desirable_weight", "undesirable_weight"),
            reference=True,
            # The reference scores each answer and its KL sequence; the policy the KL sequence.
            reference_forwards=2.0,
            policy_forwards=1.0,
        ),
    )
}

DEFAULT_METHOD = "lora"
DEFAULT_OBJECTIVE = "supervised"


class UnknownName(ValueError):
    """A method or objective name that the registry does not list; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def method(name: str) -> Method:
    """The method called `name`; UnknownName('method') otherwise."""
    if name not in METHODS:
        raise UnknownName("method", f"must be one of {', '.join(METHODS)}; got {name!r}")
    return METHODS[name]


def objective(name: str) -> Objective:
    """The objective called `name`; UnknownName('objective') otherwise."""
    if name not in OBJECTIVES:
        raise UnknownName("objective", f"must be one of {', '.join(OBJECTIVES)}; got {name!r}")
    return OBJECTIVES[name]


def method_names() -> tuple[str, ...]:
    return tuple(METHODS)


def objective_names() -> tuple[str, ...]:
    return tuple(OBJECTIVES)


def method_choices() -> list[tuple[str, str]]:
    """[(name, help)] of every method, for forms and API schemas."""
    return [(m.name, m.help) for m in METHODS.values()]


def objective_choices() -> list[tuple[str, str]]:
    """[(name, help)] of every objective, for forms and API schemas."""
    return [(o.name, o.help) for o in OBJECTIVES.values()]


def methods_needing_base_model() -> tuple[str, ...]:
    return _WITH_BASE


def shardable_methods() -> tuple[str, ...]:
    return tuple(name for name, m in METHODS.items() if m.shardable)


def combination_error(method_name: str, objective_name: str) -> str | None:
    """Why `objective_name` cannot train through `method_name`, or None when it can."""
    allowed = objective(objective_name).methods
    if method_name in allowed:
        return None
    return (
        f"objective '{objective_name}' trains with method {', '.join(allowed)}; "
        f"not with '{method_name}'"
    )


def record_kinds_error(objective_name: str, kinds: Iterable[str]) -> str | None:
    """Why a dataset whose records have the shapes `kinds` cannot train `objective_name`, or
    None when every shape fits (the message names the record fields the objective needs)."""
    wanted = objective(objective_name)
    wrong = sorted(set(kinds) - set(wanted.record_kinds))
    if not wrong:
        return None
    needs = " or ".join(RECORD_FIELDS[kind] for kind in wanted.record_kinds)
    fits = [name for name, o in OBJECTIVES.items() if set(kinds) <= set(o.record_kinds)]
    hint = f"; this dataset suits objective {' or '.join(fits)}" if fits else ""
    return (
        f"objective '{objective_name}' needs records shaped {needs}, but the dataset has "
        f"{', '.join(wrong)} records{hint}"
    )


# What each record shape looks like, for messages.
RECORD_FIELDS = {
    TEXT: '{"text"}',
    PROMPT_COMPLETION: '{"prompt", "completion"}',
    CHAT: '{"messages"}',
    PREFERENCE: '{"prompt", "chosen", "rejected"}',
    UNPAIRED_PREFERENCE: '{"prompt", "completion", "label"}',
}


def objective_settings() -> dict[str, tuple[str, ...]]:
    """{objective: the TrainConfig fields that belong to it}."""
    return {name: o.settings for name, o in OBJECTIVES.items()}


def setting_owners(setting: str) -> tuple[str, ...]:
    """The objectives a setting belongs to (empty: it belongs to every objective)."""
    return tuple(name for name, o in OBJECTIVES.items() if setting in o.settings)
