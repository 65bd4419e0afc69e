"""Running a claimed evaluation run: load the model, build the tasks, run lm-eval in this
process (offline: ``platform_site.offline`` sets ``HF_DATASETS_OFFLINE``; tasks hand lm-eval
their data in memory, so nothing is fetched), store the metrics, end the run.

Never raises for an evaluation error: the run ends ``failed`` with a reason users can read.
Every write goes through the lease (``evaluation.lease``): a worker whose lease was taken
over writes nothing more.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from django.db import transaction

from evaluation import services
from evaluation.harness.bundle import BundleTask, read_bundle
from evaluation.harness.lm import HarnessCancelled, PlatformLM
from evaluation.harness.run import run_tasks
from evaluation.harness.tasks import task_from_records
from evaluation.lease import RunLease, cancel_requested, finish, owned, record_progress, renew
from evaluation.models import BUNDLE_BLOB, EvaluationRun, RunStatus, SetSource
from trainer.engine_io import explain_failure
from trainer.lease import Heartbeat
from trainer.models import BaseModel, ModelVersion
from vault import services as vault

if TYPE_CHECKING:
    from serving.generation import LoadedModel

logger = logging.getLogger(__name__)
PROGRESS_EVERY_S = 2.0


class RunReporter:
    """The harness's reporter: progress to the run row (at most every two seconds), and
    stop when a user cancelled or the lease was lost."""

    def __init__(self, lease: RunLease) -> None:
        self.lease = lease
        self.last = 0.0
        self.stop = False

    def progress(self, kind: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S and done < total:
            return
        self.last = now
        progress = {"stage": kind, "done": done, "total": total}
        self.stop = not record_progress(self.lease, progress) or cancel_requested(self.lease)

    def should_stop(self) -> bool:
        return self.stop


def run_claimed(lease: RunLease) -> None:
    """Evaluate a claimed run and record its metrics (see the module docstring)."""
    run = EvaluationRun.objects.select_related(
        "evaluation_set__dataset_version__data_key",
        "evaluation_set__data_key",
        "base_model",
        "model_version__data_key",
    ).get(pk=lease.run_id)
    lost = threading.Event()
    heartbeat = Heartbeat(f"evaluation-run-{run.pk}", lambda: renew(lease), lost)
    heartbeat.start()
    try:
        loaded = load_model(run)
        tasks = build_tasks(run, loaded)
        record_progress(lease, {"stage": "running", "tasks": [t.name for t in tasks]})
        lm = PlatformLM(loaded, reporter=RunReporter(lease))
        results = run_tasks(lm, tasks, limit=run.limit)
        _record(lease, results)
    except HarnessCancelled:
        finish(lease, RunStatus.CANCELLED)
    except Exception as exc:
        logger.exception("evaluation run %s failed", run.pk)
        finish(lease, RunStatus.FAILED, error=explain_failure(exc, "Evaluation"))
    finally:
        heartbeat.stopped.set()


def _record(lease: RunLease, results: list[Any]) -> None:
    with transaction.atomic():
        if not owned(lease).select_for_update().exists():
            return
        services.store_metrics(lease.run_id, results)
        record_progress(lease, {"stage": "done", "tasks": len(results)})
        finish(lease, RunStatus.SUCCEEDED)


# --- the model and the tasks --------------------------------------------------------------


def load_model(run: EvaluationRun) -> LoadedModel:
    """The run's model in memory, as serving loads it (a version decrypted, adapters merged)."""
    if run.base_model is not None:
        return load_base(run.base_model)
    return load_version(run.model_version)


def load_base(base: BaseModel) -> LoadedModel:
    import torch

    from serving import generation
    from serving.registry import serving_device
    from trainer.engine.models import load_causal_lm, load_tokenizer

    device = serving_device()
    model = load_causal_lm(base.path, dtype=torch.float32).to(device).eval()
    tokenizer = load_tokenizer(base.path)
    context = generation.context_length_of(model, tokenizer)
    return generation.LoadedModel(base.name, model, tokenizer, context, device)


def load_version(version: ModelVersion) -> LoadedModel:
    from serving import generation
    from serving.registry import serving_device
    from trainer.checkpoints import open_version_store
    from trainer.engine import load_final_model

    device = serving_device()
    store = open_version_store(version)
    model, tokenizer, _ = load_final_model(store, device=device, merge_adapter=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    context = generation.context_length_of(model, tokenizer)
    return generation.LoadedModel(version.name, model, tokenizer, context, device)


def build_tasks(run: EvaluationRun, loaded: LoadedModel) -> list[BundleTask]:
    """The set's tasks: the bundle read back from its encrypted blob, or the dataset's test
    split rendered with the evaluated model's own chat format."""
    evaluation_set = run.evaluation_set
    if evaluation_set.source == SetSource.BUNDLE:
        return read_bundle(vault.read_blob(evaluation_set.data_key, BUNDLE_BLOB))
    records = services.test_records(evaluation_set.dataset_version)
    name = services.task_name(evaluation_set.name)
    return [task_from_records(name, records, chat_renderer(loaded.tokenizer)).task]


def chat_renderer(tokenizer: Any) -> Any:
    """Messages to prompt text as ``serving.generation.chat_prompt_ids`` renders them: the
    chat template when the tokenizer has one, else training's plain ``Role: content``."""

    def render(messages: list[dict[str, str]]) -> str:
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        lines = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages)
        return (tokenizer.bos_token or "") + lines + "Assistant: "

    return render
