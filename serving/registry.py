"""Which models a caller may query, and the per-process cache of loaded models.

Base models load from their directory; fine-tuned models are decrypted in memory from the
job's encrypted checkpoint store (``trainer.engine.load_final_model``, adapters merged) and never
written back to disk in plaintext. The cache keeps the few most recently used models.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

from accounts.roles import Action
from accounts.services import project_ids_allowing
from ops.lazy import lazy_module
from serving.models import Deployment, DeploymentKey, DeploymentStatus
from trainer.models import BaseModel, ModelVersion
from vault import services as vault

if TYPE_CHECKING:
    from serving import generation
    from serving.generation import LoadedModel
else:  # PyTorch loads with the first model, not when the URL configuration is imported
    generation = lazy_module("serving.generation")


class ModelUnavailable(LookupError):
    """No model of that name exists for this caller (or its data was destroyed)."""


@dataclass(frozen=True)
class ModelTarget:
    """A model a caller may query: a base model or an active deployment."""

    name: str
    cache_key: str
    base_model: BaseModel | None = None
    deployment: Deployment | None = None

    @property
    def project_id(self) -> int | None:
        return self.deployment.project_id if self.deployment else None

    @property
    def pii_filter(self) -> bool:
        return bool(self.deployment and self.deployment.pii_filter)


def visible_deployments(user: Any) -> Any:
    """Active deployments of the projects the user belongs to."""
    ids = project_ids_allowing(user, Action.VIEW_PROJECT)
    return Deployment.objects.filter(project_id__in=ids, status=DeploymentStatus.ACTIVE)


def models_for(user: Any, key: DeploymentKey | None) -> list[ModelTarget]:
    """Every model the caller may query: a deployment key sees its own deployment only."""
    if key is not None:
        return [_deployment_target(key.deployment)]
    bases = [_base_target(model) for model in BaseModel.objects.all()]
    deployments = visible_deployments(user).select_related("model_version__data_key")
    return bases + [_deployment_target(d) for d in deployments]


def resolve(user: Any, key: DeploymentKey | None, name: str) -> ModelTarget:
    """The model called ``name`` if the caller may query it; else ModelUnavailable.

    A deployment whose data key was destroyed (its dataset was deleted) no longer resolves,
    and any copy of it in the cache is dropped.
    """
    if key is not None:
        deployments = Deployment.objects.filter(pk=key.deployment_id, status="active")
    else:
        base = BaseModel.objects.filter(name=name).first()
        if base is not None:
            return _base_target(base)
        deployments = visible_deployments(user)
    deployment = (
        deployments.select_related("model_version__data_key", "model_version__job")
        .filter(model_name=name)
        .first()
    )
    if deployment is None:
        raise ModelUnavailable(name)
    if deployment.model_version.data_key.is_destroyed:
        CACHE.evict(_deployment_target(deployment).cache_key)
        raise ModelUnavailable(name)
    return _deployment_target(deployment)


def _base_target(model: BaseModel) -> ModelTarget:
    return ModelTarget(model.name, f"base:{model.pk}:{model.path}", base_model=model)


def _deployment_target(deployment: Deployment) -> ModelTarget:
    # The data key's uuid makes the cache key unique even if database ids are ever reused.
    key = f"version:{deployment.model_version_id}:{deployment.model_version.data_key_id}"
    return ModelTarget(deployment.model_name, key, deployment=deployment)


# --- loading ------------------------------------------------------------------------------


def serving_device() -> Any:
    import torch

    choice = settings.SERVING_DEVICE
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(choice)


def load_target(target: ModelTarget) -> LoadedModel:
    """Load the target's weights into memory. Raises ModelUnavailable when its key is gone."""
    if target.base_model is not None:
        return _load_base(target.base_model)
    assert target.deployment is not None
    try:
        return _load_version(target.name, target.deployment.model_version)
    except vault.KeyDestroyedError as exc:
        raise ModelUnavailable(target.name) from exc


def _load_base(base: BaseModel) -> LoadedModel:
    import torch

    from trainer.engine.models import load_causal_lm, load_tokenizer

    device = serving_device()
    model = load_causal_lm(base.path, dtype=torch.float32).to(device).eval()
    tokenizer = load_tokenizer(base.path)
    return generation.LoadedModel(
        base.name, model, tokenizer, generation.context_length_of(model, tokenizer), device
    )


def _load_version(name: str, version: ModelVersion) -> LoadedModel:
    from trainer.checkpoints import open_version_store
    from trainer.engine import load_final_model

    store = open_version_store(version)
    device = serving_device()
    model, tokenizer, _config = load_final_model(store, device=device, merge_adapter=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return generation.LoadedModel(
        name, model, tokenizer, generation.context_length_of(model, tokenizer), device
    )


class ModelCache:
    """A thread-safe LRU of loaded models; one load per key even under concurrent requests."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, key: str, load: Callable[[], LoadedModel]) -> LoadedModel:
        """The cached model for ``key``, loading it with ``load`` on a miss."""
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._models:
                    return self._models[key]
            loaded = load()
            with self._lock:
                self._models[key] = loaded
                self._models.move_to_end(key)
                while len(self._models) > max(1, self.size):
                    self._models.popitem(last=False)
                self._loading.pop(key, None)
            return loaded

    def evict(self, key: str) -> None:
        with self._lock:
            self._models.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._models)


CACHE = ModelCache(getattr(settings, "SERVING_MODEL_CACHE_SIZE", 3))


def loaded_model(target: ModelTarget) -> LoadedModel:
    """The target's model from the cache, loading it on first use."""
    return CACHE.get(target.cache_key, lambda: load_target(target))
