"""Exporting a trained model's merged weights as safetensors or GGUF: owners only, after typing
their password again, audited, and by default as a passphrase-encrypted bundle.

The weights are decrypted, merged (adapters folded into the base) and packed in memory; nothing
is written to disk on the server. GGUF (F16, for llama.cpp and Ollama) is offered for
Llama-architecture models with a byte-level BPE tokenizer; see ``serving.gguf_export``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from accounts.roles import Action
from accounts.services import reauthenticate, require
from audit.services import Actor, record_event
from serving import export_bundle, release
from trainer.models import ModelVersion
from vault import services as vault

FORMATS = ("encrypted", "plain")
WEIGHTS = ("safetensors", "gguf")


class ExportError(ValueError):
    """The export request is invalid; ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ReauthenticationFailed(Exception):
    """The password typed again does not match the caller's."""


class ReauthenticationLocked(ReauthenticationFailed):
    """Too many wrong passwords (the sign-in's lockout counter): not even tried."""


@dataclass(frozen=True)
class ExportedModel:
    filename: str
    content_type: str
    data: bytes


def export_model(
    actor: Actor,
    version: ModelVersion,
    *,
    password: str,
    request: Any,
    fmt: str = "encrypted",
    passphrase: str = "",
    weights: str = "safetensors",
) -> ExportedModel:
    """Merged weights of ``version`` as a zip (``merged_files``: safetensors files, or
    ``model.gguf`` when ``weights`` is ``gguf``), sealed with ``passphrase`` unless ``fmt`` is
    ``plain``. Needs EXPORT_MODEL (owners) and the caller's password, checked through the
    sign-in's lockout (``accounts.services.reauthenticate`` with ``request``); every attempt
    is audited. Raises PermissionDenied, ReleaseRefused (a release check such as the privacy
    audit refuses the version), ReauthenticationFailed (ReauthenticationLocked when locked
    out) or ExportError."""
    require(actor, version.project_id, Action.EXPORT_MODEL, obj=version)
    refusal = release.check_release(version, "export")
    if refusal is not None:
        record_event(
            actor,
            "model.export",
            obj=version,
            outcome="denied",
            details={"reason": refusal.check, "measure": refusal.measure},
        )
        raise release.ReleaseRefused(refusal)
    outcome = "wrong" if actor.user is None else reauthenticate(request, actor.user, password)
    if outcome != "ok":
        reason = "locked out" if outcome == "locked" else "re-authentication failed"
        record_event(
            actor,
            "model.export",
            obj=version,
            outcome="denied",
            details={"reason": reason, "weights": str(weights)[:16]},
        )
        raise ReauthenticationLocked() if outcome == "locked" else ReauthenticationFailed()
    try:
        data = _bundle(version, fmt=fmt, weights=weights, passphrase=passphrase)
    except ExportError as exc:
        record_event(
            actor,
            "model.export",
            obj=version,
            outcome="denied",
            details={"reason": exc.field, "format": str(fmt)[:16], "weights": str(weights)[:16]},
        )
        raise
    record_event(
        actor,
        "model.export",
        obj=version,
        details={
            "format": fmt,
            "weights": weights,
            "bytes": len(data),
            "model_version": version.pk,
        },
    )
    stem = f"model-version-{version.pk}" + ("-gguf" if weights == "gguf" else "")
    if fmt == "plain":
        return ExportedModel(f"{stem}.zip", "application/zip", data)
    return ExportedModel(f"{stem}.sobexp", "application/octet-stream", data)


def _bundle(version: ModelVersion, *, fmt: str, weights: str, passphrase: str) -> bytes:
    """The export's bytes; ExportError names the input that makes it impossible."""
    if fmt not in FORMATS:
        raise ExportError("format", f"one of {', '.join(FORMATS)}")
    if weights not in WEIGHTS:
        raise ExportError("weights", f"one of {', '.join(WEIGHTS)}")
    if fmt == "encrypted" and len(passphrase) < export_bundle.MIN_PASSPHRASE:
        raise ExportError(
            "passphrase",
            f"at least {export_bundle.MIN_PASSPHRASE} characters (or ask for format 'plain')",
        )
    archive = export_bundle.zip_files(_merged_or_refused(version, weights))
    return archive if fmt == "plain" else export_bundle.seal(archive, passphrase)


def _merged_or_refused(version: ModelVersion, weights: str) -> dict[str, bytes]:
    """``merged_files``, or ExportError when the model's data was destroyed (its dataset was
    deleted), its final weights are missing, or it has no GGUF form: a refusal, not a server
    error."""
    from serving.gguf_export import UnsupportedModelError
    from trainer.engine import CheckpointError

    if version.data_key.is_destroyed:
        raise ExportError("model_version", "the model's data was destroyed")
    try:
        return merged_files(version, weights)
    except (CheckpointError, vault.KeyDestroyedError) as exc:
        raise ExportError("model_version", "the model has no final weights to export") from exc
    except UnsupportedModelError as exc:
        raise ExportError("weights", f"this model cannot be exported as GGUF: {exc}") from exc


def merged_files(version: ModelVersion, weights: str = "safetensors") -> dict[str, bytes]:
    """``{file name: bytes}`` of the merged model, built in memory: ``model.safetensors``,
    ``config.json``, ``tokenizer.json`` and ``tokenizer_config.json``, or ``model.gguf`` alone
    when ``weights`` is ``gguf`` (raises UnsupportedModelError); ``export.json``
    (lineage) either way."""
    from serving.gguf_export import to_gguf  # torch and gguf load on first export only

    model, tokenizer = _load_merged(version)
    if weights == "gguf":
        files = {"model.gguf": to_gguf(model, tokenizer, name=version.name)}
    else:
        files = _safetensors_files(model, tokenizer)
    files["export.json"] = json.dumps(
        {
            "model_version": version.pk,
            "name": version.name,
            "weights": weights,
            "lineage": version.lineage,
        },
        default=str,
    ).encode()
    return files


def _load_merged(version: ModelVersion) -> tuple[Any, Any]:
    """The decrypted final model of ``version`` with its adapter merged, and its tokenizer."""
    from trainer.checkpoints import open_version_store
    from trainer.engine import load_final_model

    store = open_version_store(version)
    model, tokenizer, _config = load_final_model(store, merge_adapter=True)
    return model, tokenizer


def _safetensors_files(model: Any, tokenizer: Any) -> dict[str, bytes]:
    from safetensors.torch import save

    return {
        "model.safetensors": save(_unshared(model.state_dict()), metadata={"format": "pt"}),
        "config.json": model.config.to_json_string().encode(),
        "tokenizer.json": tokenizer.backend_tokenizer.to_str().encode(),
        "tokenizer_config.json": json.dumps(_tokenizer_config(tokenizer)).encode(),
    }


def _unshared(state: dict[str, Any]) -> dict[str, Any]:
    """Tied tensors (shared embeddings) once each, as safetensors requires; the config's
    ``tie_word_embeddings`` restores the tie on loading."""
    seen: set[int] = set()
    tensors = {}
    for name, tensor in state.items():
        pointer = tensor.untyped_storage().data_ptr()
        if pointer in seen:
            continue
        seen.add(pointer)
        tensors[name] = tensor.detach().contiguous().cpu()
    return tensors


def _tokenizer_config(tokenizer: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": int(getattr(tokenizer, "model_max_length", 2048)),
    }
    for name in ("bos_token", "eos_token", "pad_token", "unk_token"):
        value = getattr(tokenizer, name, None)
        if value:
            config[name] = str(value)
    if getattr(tokenizer, "chat_template", None):
        config["chat_template"] = tokenizer.chat_template
    return config
