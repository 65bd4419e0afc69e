"""lm-evaluation-harness's ``LM`` over a model loaded in this process.

``PlatformLM`` answers lm-eval's three request types with the same functions that serve
``/v1/completions``: ``serving.scoring.score_prompts`` for log likelihoods and
``serving.generation.generate`` for ``generate_until``. It tokenizes as lm-eval's
``local-completions`` model does (``TemplateAPI``: no special tokens unless ``add_bos_token``,
the context left-truncated to ``max_length - 1`` tokens, stop sequences = ``until`` plus the
end-of-sequence text), so a task scored here and through the API with that model gets the same
numbers. Nothing here imports Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lm_eval import utils as lm_utils
from lm_eval.api.model import TemplateLM
from lm_eval.models.utils import handle_stop_sequences

from serving.generation import LoadedModel, generate, plan_max_new_tokens
from serving.sampling import SamplingParams
from serving.scoring import SCORE_TOKEN_BUDGET, score_prompts

# Requests scored between two progress reports (and two looks at should_stop).
CHUNK = 64
# Generation settings lm-eval tasks use that this model understands; any other is refused.
GENERATION_SETTINGS = frozenset({"until", "max_gen_toks", "do_sample", "temperature", "top_p"})


class HarnessError(ValueError):
    """A task asks for something this harness cannot do faithfully (say which and why)."""


class HarnessCancelled(RuntimeError):
    """The reporter asked to stop; nothing was recorded."""


class HarnessReporter(Protocol):
    """Where a run reports progress and learns it should stop (the job row, in the app)."""

    def progress(self, kind: str, done: int, total: int) -> None: ...

    def should_stop(self) -> bool: ...


class SilentReporter:
    """A reporter that reports nothing and never stops."""

    def progress(self, kind: str, done: int, total: int) -> None:
        """Nothing to report to."""

    def should_stop(self) -> bool:
        return False


@dataclass(frozen=True)
class _Generation:
    """One ``generate_until`` request, validated."""

    ids: list[int]
    params: SamplingParams
    max_new: int


class PlatformLM(TemplateLM):
    """lm-eval's LM over a ``serving.generation.LoadedModel`` (see the module docstring).

    ``max_length`` defaults to the model's context, ``max_gen_toks`` to lm-eval's 256.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        max_length: int | None = None,
        max_gen_toks: int = 256,
        add_bos_token: bool = False,
        token_budget: int = SCORE_TOKEN_BUDGET,
        reporter: HarnessReporter | None = None,
    ) -> None:
        super().__init__()
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        # As TemplateAPI: one position is kept for the token the API generates.
        self.max_length = (max_length or loaded.context_length) - 1
        self.max_gen_toks = max_gen_toks
        self.add_bos_token = add_bos_token
        self.token_budget = token_budget
        self.reporter: HarnessReporter = reporter or SilentReporter()

    # --- tokenization (as lm-eval's TemplateAPI with a Hugging Face tokenizer) -----------

    @property
    def eot_token_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    @property
    def prefix_token_id(self) -> int:
        bos = self.tokenizer.bos_token_id
        return int(bos) if bos is not None else self.eot_token_id

    @property
    def tokenizer_name(self) -> str:
        return self.loaded.name

    def tok_encode(
        self,
        string: str,
        add_special_tokens: bool | None = None,
        left_truncate_len: int | None = None,
        **kwargs: Any,
    ) -> list[int]:
        """Token ids of ``string``; special tokens only with ``add_bos_token`` or when asked."""
        special = bool(add_special_tokens) or self.add_bos_token
        ids = list(self.tokenizer(string, add_special_tokens=special)["input_ids"])
        return ids[-left_truncate_len:] if left_truncate_len else ids

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        return self.tokenizer.apply_chat_template(
            chat_history,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
            continue_final_message=not add_generation_prompt,
        )

    # --- log likelihoods ------------------------------------------------------------------

    def _loglikelihood_tokens(
        self, requests: Sequence[tuple[Any, list[int], list[int]]], **kwargs: Any
    ) -> list[tuple[float, bool]]:
        """``(logprob, is_greedy)`` of each continuation given its context (token ids).

        Inputs longer than ``max_length`` lose tokens from the left of the context, as the
        API model truncates them.
        """
        inputs, starts = [], []
        for _key, context, continuation in requests:
            whole = (context + continuation)[-self.max_length :]
            if len(whole) - len(continuation) < 1:
                raise HarnessError(
                    f"a continuation of {len(continuation)} tokens leaves no context in a "
                    f"{self.max_length}-token window"
                )
            inputs.append(whole)
            starts.append(len(whole) - len(continuation))
        results: list[tuple[float, bool]] = []
        for begin in range(0, len(inputs), CHUNK):
            self._checkpoint("loglikelihood", begin, len(inputs))
            chunk = inputs[begin : begin + CHUNK]
            scored = score_prompts(self.loaded, chunk, token_budget=self.token_budget)
            results += [
                s.continuation_logprob(start)
                for s, start in zip(scored, starts[begin:], strict=False)
            ]
        self.reporter.progress("loglikelihood", len(inputs), len(inputs))
        for (key, _, _), answer in zip(requests, results, strict=True):
            if key is not None:
                self.cache_hook.add_partial("loglikelihood", key, answer)
        return results

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        """Log likelihood of whole texts, in disjoint windows of ``max_length - 1`` tokens
        each conditioned on the token before it (lm-eval's rolling windows)."""
        totals = []
        for (text,) in (r.args for r in requests):
            windows = [
                (None, *lm_utils.make_disjoint_window(w))
                for w in lm_utils.get_rolling_token_windows(
                    token_list=self.tok_encode(text),
                    prefix_token=self.prefix_token_id,
                    max_seq_len=self.max_length - 1,
                    context_len=1,
                )
            ]
            total = sum(logprob for logprob, _ in self._loglikelihood_tokens(windows))
            self.cache_hook.add_partial("loglikelihood_rolling", (text,), total)
            totals.append(total)
        return totals

    # --- generation -----------------------------------------------------------------------

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """Greedy (or sampled, when a task asks for it) completions cut at the first stop
        sequence: the task's ``until`` plus the end-of-sequence text."""
        plans = [
            self._plan(context, dict(kwargs or {}))
            for context, kwargs in (r.args for r in requests)
        ]
        answers = []
        for done, plan in enumerate(plans):
            self._checkpoint("generate_until", done, len(plans))
            answers.append(generate(self.loaded, plan.ids, plan.params, plan.max_new).text)
        self.reporter.progress("generate_until", len(plans), len(plans))
        for request, answer in zip(requests, answers, strict=True):
            self.cache_hook.add_partial("generate_until", request.args, answer)
        return answers

    def _plan(self, context: str, settings: dict[str, Any]) -> _Generation:
        unknown = sorted(set(settings) - GENERATION_SETTINGS)
        if unknown:
            raise HarnessError(f"generation setting(s) not supported: {', '.join(unknown)}")
        max_gen = int(settings.get("max_gen_toks", self.max_gen_toks))
        room = self.max_length - max_gen
        if room <= 0:
            raise HarnessError(
                f"max_gen_toks {max_gen} leaves no room in a {self.max_length + 1}-token context"
            )
        ids = self.tok_encode(context, left_truncate_len=room)
        stops = handle_stop_sequences(settings.get("until"), self.tokenizer.eos_token)
        # As local-completions does: ``do_sample`` is dropped and ``temperature`` (0 unless
        # given) decides between greedy decoding and sampling.
        params = SamplingParams(
            max_tokens=max_gen,
            temperature=float(settings.get("temperature", 0.0)),
            top_p=float(settings.get("top_p", 1.0)),
            stop=tuple(s for s in stops if s),
        )
        limit = self.loaded.context_length
        return _Generation(ids, params, plan_max_new_tokens(len(ids), max_gen, limit, max_gen))

    def _checkpoint(self, kind: str, done: int, total: int) -> None:
        if self.reporter.should_stop():
            raise HarnessCancelled(f"stopped after {done} of {total} {kind} requests")
        self.reporter.progress(kind, done, total)
