"""Fine-tuning ``method.type`` names: OpenAI's, and Soberana's beyond them, mapped onto the
training registry's parameterizations and objectives (no name is compared here: the registry
lists them)."""

from __future__ import annotations

from trainer.engine import registry

# OpenAI's types that Soberana does not train (yet): refused naming `method`, never ignored.
UNSUPPORTED_METHOD_TYPES = {"reinforcement": "reinforcement fine-tuning is not supported"}


def method_types() -> dict[str, tuple[str, str]]:
    """Every accepted ``method.type`` → (parameterization, objective), from the registry.

    OpenAI's ``supervised`` and ``dpo`` first; beyond OpenAI, each parameterization that
    starts from a base model (``lora``, ``dora``, ``full`` …: supervised through it) and each
    other objective (``orpo``, ``kto``). A preference objective trains through its first
    listed parameterization (LoRA: its reference is the base with adapters disabled).
    """
    types = {"supervised": (registry.DEFAULT_METHOD, registry.DEFAULT_OBJECTIVE)}
    for name in registry.objective_names():
        types.setdefault(name, (registry.objective(name).methods[0], name))
    for name in registry.methods_needing_base_model():
        types.setdefault(name, (name, registry.DEFAULT_OBJECTIVE))
    return types


def objective_of(method_type: str) -> str:
    """The training objective a stored ``method.type`` stands for."""
    return method_types()[method_type][1]
