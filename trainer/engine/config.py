"""Training configuration: one validated dataclass shared by the Celery task, the CLI and the tests.

`TrainConfig` validates itself in `__post_init__` and raises `ConfigError(field, message)`
naming the offending field, so the web layer can show the message next to the right form input.
Checks that need the base model (seq_len against the model's context) run later, through
`check_against_model`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from dataclasses import dataclass, field
from typing import Any

from . import dp, registry

METHODS = registry.method_names()
OBJECTIVES = registry.objective_names()
LR_SCHEDULES = ("cosine", "linear", "constant")
SCRATCH_PRESETS = ("tiny", "10m", "50m", "125m", "350m", "1b")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16-mixed", "bf16")
PARALLELISMS = ("auto", "ddp", "fsdp")
# Methods whose weights FSDP may shard; adapters are small enough for DDP to replicate.
FSDP_METHODS = registry.shardable_methods()
COMPILE_MODES = ("auto", "on", "off")
QLORA_UNAVAILABLE = "QLoRA needs an NVIDIA GPU with bitsandbytes; use method 'lora' on this machine"


class ConfigError(ValueError):
    """A configuration value is invalid; `field` names the offending TrainConfig field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class TrainConfig:
    """Every knob of a training job. Construct directly or with `from_dict`; both validate."""

    method: str = field(
        default=registry.DEFAULT_METHOD,
        metadata=_help(f"Which weights train (the parameterization), one of {METHODS}."),
    )
    objective: str = field(
        default=registry.DEFAULT_OBJECTIVE,
        metadata=_help(
            f"What the loss rewards, one of {OBJECTIVES}: supervised learns from examples; "
            "dpo, orpo and kto learn from preferences."
        ),
    )
    base_model_dir: str | None = field(
        default=None,
        metadata=_help(
            "Directory of the base model (config.json, safetensors, tokenizer files). "
            "Required unless method is 'from_scratch'."
        ),
    )
    max_steps: int = field(default=1000, metadata=_help("Optimizer steps to run (1..1,000,000)."))
    learning_rate: float = field(default=2e-4, metadata=_help("Peak learning rate (0 < lr <= 1)."))
    batch_size: int = field(
        default=8,
        metadata=_help(
            "Packed rows of seq_len tokens per micro-batch (per process under torchrun). "
            "Short records share a row, so a row usually holds several records."
        ),
    )
    seq_len: int = field(
        default=1024,
        metadata=_help(
            "Tokens per packed row (16..the model's context length). Longer records are "
            "split into chunks of this size."
        ),
    )
    grad_accum: int = field(
        default=1, metadata=_help("Micro-batches accumulated per optimizer step.")
    )
    warmup_steps: int = field(
        default=0, metadata=_help("Linear warm-up steps before the schedule.")
    )
    lr_schedule: str = field(
        default="cosine", metadata=_help(f"LR decay after warm-up: {LR_SCHEDULES}.")
    )
    min_lr_ratio: float = field(
        default=0.0, metadata=_help("Final LR as a fraction of the peak (0..1).")
    )
    weight_decay: float = field(default=0.0, metadata=_help("AdamW decoupled weight decay (0..1)."))
    max_grad_norm: float = field(default=1.0, metadata=_help("Gradient clipping norm; 0 disables."))
    lora_r: int = field(default=16, metadata=_help("LoRA rank (1..1024)."))
    lora_alpha: float = field(default=32.0, metadata=_help("LoRA scaling numerator (alpha / r)."))
    lora_dropout: float = field(default=0.0, metadata=_help("Dropout on the LoRA input (0..0.9)."))
    lora_target_modules: str | list[str] = field(
        default="all-linear",
        metadata=_help("Modules that get adapters: 'all-linear' or a list of module names."),
    )
    freeze_layers: int = field(
        default=0,
        metadata=_help("method 'freeze': embeddings plus the first N decoder layers stay frozen."),
    )
    scratch_preset: str = field(
        default="tiny", metadata=_help(f"from_scratch model size: {SCRATCH_PRESETS}.")
    )
    scratch_vocab_size: int = field(
        default=16000,
        metadata=_help("from_scratch: BPE vocabulary trained on the train split (256..262144)."),
    )
    beta: float = field(
        default=0.1,
        metadata=_help(
            "dpo / kto: how far the model may move from the reference (higher = stay closer), "
            "0 < beta <= 100."
        ),
    )
    label_smoothing: float = field(
        default=0.0,
        metadata=_help(
            "dpo: probability that a preference label is wrong (conservative DPO), 0 <= x < 0.5."
        ),
    )
    orpo_lambda: float = field(
        default=0.1,
        metadata=_help("orpo: weight of the odds-ratio term beside the next-token loss (0..100]."),
    )
    desirable_weight: float = field(
        default=1.0,
        metadata=_help("kto: weight of the loss on answers labelled good (0..100]."),
    )
    undesirable_weight: float = field(
        default=1.0,
        metadata=_help("kto: weight of the loss on answers labelled bad (0..100]."),
    )
    eval_every: int = field(
        default=100, metadata=_help("Validation loss every N steps; 0 = only at the end.")
    )
    eval_max_rows: int = field(
        default=64, metadata=_help("Packed validation rows used per evaluation.")
    )
    checkpoint_every: int = field(
        default=100, metadata=_help("Checkpoint every N steps; 0 = only at the end.")
    )
    keep_last: int = field(
        default=2, metadata=_help("Checkpoints kept, plus the best by validation loss.")
    )
    early_stopping_patience: int = field(
        default=0,
        metadata=_help("Stop after N evaluations without a better validation loss; 0 = off."),
    )
    seed: int = field(
        default=42, metadata=_help("Seed for data order, dropout and initialisation.")
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata=_help("Recompute activations in backward: less memory, ~30% slower."),
    )
    compile: str = field(
        default="auto",
        metadata=_help(
            f"{COMPILE_MODES}: compile each decoder layer with torch.compile (fused kernels, "
            "fewer launches; the first steps are slower while it compiles). auto = on CUDA."
        ),
    )
    device: str = field(default="auto", metadata=_help(f"Where to train: {DEVICES}."))
    max_processes: int = field(
        default=0,
        metadata=_help(
            "Most training processes (one per GPU, under torchrun) the job may use; 0 = as "
            "many as the worker offers. The engine itself follows torchrun's WORLD_SIZE."
        ),
    )
    parallelism: str = field(
        default="auto",
        metadata=_help(
            f"How several processes share the work, {PARALLELISMS}: ddp = every GPU holds the "
            "whole model; fsdp = weights, gradients and optimizer state are sharded across the "
            "GPUs (full / freeze / from_scratch only). auto = fsdp for those methods when more "
            "than one process trains, ddp for adapters."
        ),
    )
    precision: str = field(
        default="auto",
        metadata=_help(
            f"{PRECISIONS}; auto = bf16-mixed on CUDA (fp32 trainable weights), fp32 on CPU."
        ),
    )
    log_interval_s: float = field(
        default=1.0, metadata=_help("Minimum seconds between progress reports.")
    )
    differential_privacy: dict[str, Any] | None = field(default=None, metadata=_help(dp.HELP))
    eval_generate_records: int = field(
        default=20, metadata=_help("evaluate(): test records scored by greedy generation.")
    )
    eval_max_new_tokens: int = field(
        default=64, metadata=_help("evaluate(): generation length cap.")
    )

    def __post_init__(self) -> None:
        _check_types(self)
        _check_choices(self)
        _check_ranges(self)
        _check_method_requirements(self)
        _check_objective(self)
        _check_differential_privacy(self)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict that `from_dict` turns back into an equal config."""
        data = dataclasses.asdict(self)
        if isinstance(data["lora_target_modules"], list):
            data["lora_target_modules"] = list(data["lora_target_modules"])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, can_train_here: bool = True) -> TrainConfig:
        """Build a config from a (JSON) dict; ConfigError for unknown fields or bad values.

        `can_train_here` also checks that this machine could run the job
        (`check_can_train_here`): right for a job being submitted or started, wrong for the
        config saved with a finished model, which a CPU-only server must still be able to read
        (a QLoRA adapter is served on an unquantized base).
        """
        if not isinstance(data, dict):
            raise ConfigError("config", "expected a JSON object of training settings")
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(str(key), "unknown setting")
        cfg = cls(**data)
        if can_train_here:
            check_can_train_here(cfg)
        return cfg

    @classmethod
    def help_texts(cls) -> dict[str, str]:
        """Return {field name: help text} for forms and docs."""
        return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}

    def check_against_model(self, max_positions: int | None) -> None:
        """Raise ConfigError('seq_len') when seq_len exceeds the context `max_positions`."""
        if max_positions is not None and self.seq_len > max_positions:
            raise ConfigError(
                "seq_len",
                f"{self.seq_len} exceeds the model's context length of {max_positions} tokens",
            )


_INT_FIELDS = (
    "max_steps",
    "batch_size",
    "seq_len",
    "grad_accum",
    "warmup_steps",
    "lora_r",
    "freeze_layers",
    "scratch_vocab_size",
    "eval_every",
    "eval_max_rows",
    "checkpoint_every",
    "keep_last",
    "early_stopping_patience",
    "seed",
    "eval_generate_records",
    "eval_max_new_tokens",
    "max_processes",
)
_FLOAT_FIELDS = (
    "beta",
    "label_smoothing",
    "orpo_lambda",
    "desirable_weight",
    "undesirable_weight",
    "learning_rate",
    "min_lr_ratio",
    "weight_decay",
    "max_grad_norm",
    "lora_alpha",
    "lora_dropout",
    "log_interval_s",
)
_STR_FIELDS = (
    "method",
    "objective",
    "lr_schedule",
    "scratch_preset",
    "device",
    "precision",
    "parallelism",
    "compile",
)


def _check_types(cfg: TrainConfig) -> None:
    """Reject wrong JSON types early (bool is not an int here; ints are accepted as floats)."""
    for name in _INT_FIELDS:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(name, f"must be a whole number, got {value!r}")
    for name in _FLOAT_FIELDS:
        value = getattr(cfg, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ConfigError(name, f"must be a finite number, got {value!r}")
        setattr(cfg, name, float(value))
    for name in _STR_FIELDS:
        if not isinstance(getattr(cfg, name), str):
            raise ConfigError(name, f"must be text, got {getattr(cfg, name)!r}")
    if not isinstance(cfg.gradient_checkpointing, bool):
        raise ConfigError("gradient_checkpointing", "must be true or false")
    if cfg.base_model_dir is not None and not isinstance(cfg.base_model_dir, str):
        raise ConfigError("base_model_dir", "must be a directory path")
    _check_target_modules(cfg)


def _check_target_modules(cfg: TrainConfig) -> None:
    targets = cfg.lora_target_modules
    if isinstance(targets, tuple):
        targets = cfg.lora_target_modules = list(targets)
    if isinstance(targets, str):
        if not targets:
            raise ConfigError("lora_target_modules", "must not be empty")
        return
    if (
        not isinstance(targets, list)
        or not targets
        or not all(isinstance(t, str) and t for t in targets)
    ):
        raise ConfigError(
            "lora_target_modules", "must be 'all-linear' or a non-empty list of module names"
        )


def _check_choices(cfg: TrainConfig) -> None:
    choices = {
        "method": METHODS,
        "objective": OBJECTIVES,
        "lr_schedule": LR_SCHEDULES,
        "scratch_preset": SCRATCH_PRESETS,
        "device": DEVICES,
        "precision": PRECISIONS,
        "parallelism": PARALLELISMS,
        "compile": COMPILE_MODES,
    }
    for name, allowed in choices.items():
        if getattr(cfg, name) not in allowed:
            raise ConfigError(
                name, f"must be one of {', '.join(allowed)}; got {getattr(cfg, name)!r}"
            )


# (field, low, high, low_inclusive): closed ranges unless low_inclusive is False.
_RANGES: tuple[tuple[str, float, float, bool], ...] = (
    ("max_steps", 1, 1_000_000, True),
    ("learning_rate", 0.0, 1.0, False),
    ("batch_size", 1, 4096, True),
    ("seq_len", 16, 1_048_576, True),
    ("grad_accum", 1, 1024, True),
    ("warmup_steps", 0, 1_000_000, True),
    ("min_lr_ratio", 0.0, 1.0, True),
    ("weight_decay", 0.0, 1.0, True),
    ("max_grad_norm", 0.0, 1e6, True),
    ("lora_r", 1, 1024, True),
    ("lora_alpha", 0.0, 1e6, False),
    ("lora_dropout", 0.0, 0.9, True),
    ("freeze_layers", 0, 10_000, True),
    ("scratch_vocab_size", 256, 262_144, True),
    ("eval_every", 0, 1_000_000, True),
    ("eval_max_rows", 1, 1_000_000, True),
    ("checkpoint_every", 0, 1_000_000, True),
    ("keep_last", 1, 1000, True),
    ("early_stopping_patience", 0, 10_000, True),
    ("seed", 0, 2**32 - 1, True),
    ("log_interval_s", 0.0, 3600.0, True),
    ("eval_generate_records", 0, 10_000, True),
    ("eval_max_new_tokens", 1, 4096, True),
    ("max_processes", 0, 1024, True),
    ("beta", 0.0, 100.0, False),
    ("orpo_lambda", 0.0, 100.0, False),
    ("desirable_weight", 0.0, 100.0, False),
    ("undesirable_weight", 0.0, 100.0, False),
)


def _check_ranges(cfg: TrainConfig) -> None:
    for name, low, high, low_inclusive in _RANGES:
        value = getattr(cfg, name)
        too_low = value < low if low_inclusive else value <= low
        if too_low or value > high:
            bracket = "[" if low_inclusive else "("
            raise ConfigError(name, f"must be in {bracket}{low:g}, {high:g}]; got {value!r}")
    if not 0.0 <= cfg.label_smoothing < 0.5:
        raise ConfigError("label_smoothing", f"must be in [0, 0.5); got {cfg.label_smoothing!r}")
    if cfg.warmup_steps >= cfg.max_steps and cfg.warmup_steps > 0:
        raise ConfigError("warmup_steps", f"must be smaller than max_steps ({cfg.max_steps})")


def _check_method_requirements(cfg: TrainConfig) -> None:
    method = registry.method(cfg.method)
    if method.needs_base_model and not cfg.base_model_dir:
        raise ConfigError("base_model_dir", f"is required for method '{cfg.method}'")
    if method.freezes_layers and cfg.freeze_layers == 0:
        raise ConfigError("freeze_layers", f"must be at least 1 for method '{cfg.method}'")
    if cfg.parallelism == "fsdp" and not method.shardable:
        raise ConfigError(
            "parallelism",
            f"fsdp shards {', '.join(FSDP_METHODS)} only; method '{cfg.method}' trains a small "
            "adapter with ddp: choose auto or ddp",
        )


def _check_objective(cfg: TrainConfig) -> None:
    """The objective must train through the method, and settings of other objectives must
    keep their defaults (a setting that would be ignored is refused, naming it)."""
    problem = registry.combination_error(cfg.method, cfg.objective)
    if problem:
        raise ConfigError("objective", problem)
    mine = registry.objective(cfg.objective).settings
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for name, owners in _OBJECTIVE_SETTINGS.items():
        if name not in mine and getattr(cfg, name) != defaults[name]:
            raise ConfigError(
                name,
                f"applies to objective {' / '.join(owners)}, not to '{cfg.objective}'",
            )


def _check_differential_privacy(cfg: TrainConfig) -> None:
    """Normalise `differential_privacy` (None when off) and refuse combinations that cannot be
    private (dp.combination_error), naming the field."""
    try:
        cfg.differential_privacy = dp.normalized(cfg.differential_privacy)
    except dp.DPConfigError as exc:
        raise ConfigError(exc.field, exc.message) from exc
    problem = dp.combination_error(cfg)
    if problem:
        raise ConfigError(*problem)


# Every objective-specific setting and the objectives it belongs to.
_OBJECTIVE_SETTINGS = {
    name: registry.setting_owners(name)
    for settings in registry.objective_settings().values()
    for name in settings
}


def resolve_parallelism(cfg: TrainConfig, world_size: int) -> str:
    """How a run of `world_size` processes trains: 'fsdp', 'ddp' or 'single' (no wrapper).

    An explicit 'fsdp' holds even for one process (so one GPU exercises the FSDP code path);
    otherwise one process needs neither, and 'auto' shards the methods of FSDP_METHODS.
    """
    if cfg.parallelism == "fsdp":
        return "fsdp"
    if world_size <= 1:
        return "single"
    if cfg.parallelism == "auto" and registry.method(cfg.method).shardable:
        return "fsdp"
    return "ddp"


def check_can_train_here(cfg: TrainConfig) -> None:
    """Raise ConfigError('method') when this machine cannot run `cfg` (QLoRA without a GPU and
    bitsandbytes). Checked at submission (`from_dict`) and again when training starts."""
    if registry.method(cfg.method).quantized and not qlora_available(cfg.device):
        raise ConfigError("method", QLORA_UNAVAILABLE)


def qlora_available(device: str) -> bool:
    """True when 4-bit QLoRA can run: CUDA present, not forced to CPU, bitsandbytes importable."""
    import torch  # here, not at module level: validating a config should not load torch

    if device == "cpu" or not torch.cuda.is_available():
        return False
    return importlib.util.find_spec("bitsandbytes") is not None
